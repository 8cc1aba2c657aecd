"""Copy protection: the two tags added to a page, and the files they load.

The protection lives in two static files, ``static/protect.js`` and
``static/protect.css``, served by paywall itself under ``settings.prefix``
with a content hash in their names (:mod:`paywall.protection.assets`), so browsers and
CDNs may keep them for a year and a new release is picked up at once. The page
only gets two tags; the
configuration travels as ``data-*`` attributes of the script tag, never as
inline code, so a strict Content-Security-Policy keeps working. Where the
page's policy allows scripts by nonce (typically with ``'strict-dynamic'``),
the tag carries that nonce: see :func:`csp_nonce`.

Adding the tags needs no parse of the page (members take the fast path).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from typing import Protocol

from ..paths import match_path
from ..settings import PaywallSettings, selector_rules
from .assets import Assets
from .tracing import mark_for


class _HeaderLookup(Protocol):
    """What we need of ``starlette.datastructures.Headers`` (or any multi-dict)."""

    def getlist(self, key: str) -> list[str]: ...


HeadersLike = Iterable[tuple[bytes, bytes]] | _HeaderLookup | Mapping[str, str]


def _attr(value: str) -> str:
    return html.escape(value, quote=True)


class Protection:
    """The protection tags of a page and the assets they point to.

    Built once per application: the assets are read and hashed here.
    """

    def __init__(self, settings: PaywallSettings, assets: Assets | None = None) -> None:
        self.settings = settings
        self.assets = assets or Assets(settings.prefix)
        self.script_url = self.assets.url("protect.js")
        self.style_url = self.assets.url("protect.css")
        #: Every configured article selector, for the script to find the article on pages not gated.
        self.selectors = ", ".join(selector for _pattern, selector in selector_rules(settings.article_selector))
        # The policy, asked on every protectable page, in attributes of this compiled class (the settings are
        # frozen: read once here).
        self._on = settings.copy_protection != "off"
        self._for_members = settings.protect_members
        self._excluded = settings.protect_exclude_paths
        #: Whether the tags carry a mark of the reader (``trace_copies`` in attribution mode): otherwise they are
        #: the same for every reader, who need not be named to get them.
        self.marks_readers = settings.trace_copies and settings.copy_protection == "attribute"

    # ------------------------------------------------------------- serving
    def asset(self, path: str) -> tuple[bytes, str] | None:
        """``(body, content type)`` of the paywall's static file at request ``path``, else None."""
        return self.assets.files.get(path)

    # ------------------------------------------------------------- policy
    def applies(self, path: str, *, member: bool) -> bool:
        """Whether a protectable view of ``path`` gets the protection tags.

        False when protection is off, when ``path`` matches
        ``protect_exclude_paths``, or for members when ``protect_members`` is
        off. Which views are protectable (articles, ``protect_paths``) is the
        caller's decision.
        """
        if not self._on:
            return False
        if member and not self._for_members:
            return False
        return not match_path(path, self._excluded)

    # ------------------------------------------------------------- markup
    def head_html(self, *, nonce: str | None = None, subject: str | None = None, page_url: str | None = None) -> str:
        """The stylesheet and script tags for a page's ``<head>``; "" when off.

        ``subject`` is the reader's stable id, marked into copies when
        ``trace_copies`` is on (the mark is computed here; the key never
        reaches the page). ``page_url`` is the URL quoted by attribution mode
        (the script falls back to the page's own address).
        """
        s = self.settings
        if s.copy_protection == "off":
            return ""
        nonce_attr = f' nonce="{_attr(nonce)}"' if nonce else ""
        data: list[tuple[str, str]] = [
            ("data-mode", s.copy_protection),
            ("data-scope", s.protect_scope),
            ("data-message", s.protect_message),
            ("data-min-words", str(s.attribution_min_words)),
        ]
        if self.selectors:
            data.append(("data-selector", self.selectors))
        if s.copy_protection == "block" and s.insights:
            data.append(("data-beacon", f"{s.prefix}/beacon"))
        if s.copy_protection == "attribute" and page_url and page_url.startswith(("http://", "https://")):
            data.append(("data-url", page_url))
        if self.marks_readers and subject:
            data.append(("data-mark", mark_for(s, subject)))
        attrs = "".join(f' {name}="{_attr(value)}"' for name, value in data)
        return (
            f'<link rel="stylesheet" href="{_attr(self.style_url)}"{nonce_attr}>'
            f'<script defer src="{_attr(self.script_url)}" data-paywall-protect{attrs}{nonce_attr}></script>'
        )


# --------------------------------------------------------------------- CSP
_NONCE_RE = re.compile(r"'nonce-([A-Za-z0-9+/_-]+=*)'", re.IGNORECASE)
# Which directive governs a <script src> element, most specific first.
_SCRIPT_DIRECTIVES = ("script-src-elem", "script-src", "default-src")


def _policies(headers: HeadersLike) -> list[str]:
    """Every enforced Content-Security-Policy value (report-only ones do not block)."""
    values: list[str] = []
    pairs = getattr(headers, "raw", None)  # starlette Headers: compare names ourselves, in any case
    if isinstance(pairs, list):
        values = [
            bytes(value).decode("latin-1") for name, value in pairs if bytes(name).lower() == b"content-security-policy"
        ]
    elif isinstance(headers, Mapping):
        values = [str(v) for k, v in headers.items() if str(k).lower() == "content-security-policy"]
    elif hasattr(headers, "getlist"):
        values = [str(v) for v in headers.getlist("content-security-policy")]
    else:
        for name, value in headers:
            if bytes(name).lower() == b"content-security-policy":
                values.append(bytes(value).decode("latin-1"))
    # One header may carry several policies separated by commas.
    return [policy for value in values for policy in value.split(",")]


def _directives(policy: str) -> dict[str, str]:
    """Directive name -> value; the first of a repeated directive wins (as browsers do)."""
    out: dict[str, str] = {}
    for part in policy.split(";"):
        tokens = part.strip().split(None, 1)
        if not tokens:
            continue
        name = tokens[0].lower()
        if name not in out:
            out[name] = tokens[1] if len(tokens) > 1 else ""
    return out


def csp_nonce(headers: HeadersLike) -> str | None:
    """The nonce the page's policy allows scripts with, or None.

    Looks at the directive that governs ``<script src>`` elements
    (``script-src-elem``, else ``script-src``, else ``default-src``) of each
    enforced policy. When a policy governs scripts without any nonce, the
    first nonce found in another policy is still returned: it is harmless
    where not needed and required where it is.
    """
    for policy in _policies(headers):
        directives = _directives(policy)
        for name in _SCRIPT_DIRECTIVES:
            if name in directives:
                for token in directives[name].split():
                    match = _NONCE_RE.fullmatch(token)
                    if match:
                        return match.group(1)
                break
    return None
