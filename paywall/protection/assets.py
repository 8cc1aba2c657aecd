"""The paywall's own static files, served under ``settings.prefix`` with content-hashed names.

A hash in the name lets browsers and CDNs keep a file for a year while a new
release is picked up at once; only the current names answer, so an old hash is
never cached for a year with new content. Pages only ever link to these files:
no inline code or style, so a strict Content-Security-Policy keeps working.
"""

from __future__ import annotations

import hashlib
import html
import importlib.resources

#: Cache lifetime of the content-hashed files: a changed file gets a new URL.
ASSET_CACHE_CONTROL = "public, max-age=31536000, immutable"

_CONTENT_TYPES = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8"}
#: The files in ``paywall/protection/static/``: copy protection, and the call to action's default look and
#: the script that keeps it on the page when the site's own script renders the story again.
FILES = ("protect.js", "protect.css", "cta.css", "cta.js")


def _load(name: str) -> bytes:
    return importlib.resources.files("paywall.protection").joinpath("static", name).read_bytes()


class Assets:
    """Every file of :data:`FILES`, read and hashed once per application.

    Not Starlette's ``StaticFiles``: there is no directory to serve, only these
    few files held in memory under names that change with their content.
    """

    def __init__(self, prefix: str) -> None:
        self._urls: dict[str, str] = {}
        #: ``(body, content type)`` by request path.
        self.files: dict[str, tuple[bytes, str]] = {}
        for name in FILES:
            stem, _, ext = name.rpartition(".")
            body = _load(name)
            path = f"{prefix}/{stem}.{hashlib.sha256(body).hexdigest()[:16]}.{ext}"
            self._urls[name] = path
            self.files[path] = (body, _CONTENT_TYPES[ext])

    def url(self, name: str) -> str:
        return self._urls[name]

    @property
    def paths(self) -> list[str]:
        """The request path of every file."""
        return list(self.files)

    def text(self, name: str) -> str:
        """The content of one file of :data:`FILES` (an AMP page takes the call to action's look inline)."""
        return self.files[self._urls[name]][0].decode("utf-8")

    def cta_stylesheet(self, *, nonce: str | None = None) -> str:
        """The ``<link>`` of the call to action's default look (zero specificity: any site rule wins)."""
        nonce_attr = f' nonce="{html.escape(nonce, quote=True)}"' if nonce else ""
        return f'<link rel="stylesheet" href="{html.escape(self.url("cta.css"), quote=True)}"{nonce_attr}>'

    def cta_tags(self, *, nonce: str | None = None) -> str:
        """What a page with the call to action gets in its head: its look (:meth:`cta_stylesheet`), and the
        script that puts it back when the site's own script renders the story again (``cta.js``)."""
        nonce_attr = f' nonce="{html.escape(nonce, quote=True)}"' if nonce else ""
        script = f'<script src="{html.escape(self.url("cta.js"), quote=True)}" defer{nonce_attr}></script>'
        return self.cta_stylesheet(nonce=nonce) + script
