"""The call to action that stands where the rest of an article was.

Its words must tell the truth about the reader's situation, so there are
three kinds: a trial ``offer``, a trial that has ``ended`` (no second offer),
and ``metered`` free articles used up. Every value put into the template is
HTML-escaped; the template itself is the publisher's.
"""

from __future__ import annotations

import html
import string
from typing import Literal
from urllib.parse import quote

from .settings import PaywallSettings

CtaKind = Literal["offer", "ended", "metered"]


def fill_text(settings: PaywallSettings, template: str) -> str:
    """A call-to-action text with ``$trial_days`` and ``$free_articles`` filled in."""
    values = {"trial_days": str(settings.trial_days), "free_articles": str(settings.free_articles)}
    return string.Template(template).safe_substitute(values)


def trial_url(settings: PaywallSettings, next_path: str) -> str:
    """Link to the trial page that brings the reader back to ``next_path``."""
    return f"{settings.trial_path()}?next={quote(next_path, safe='/')}"


def render_cta(settings: PaywallSettings, kind: CtaKind, next_path: str) -> str:
    if kind == "ended":
        title, action, url = settings.cta_ended_title, settings.cta_ended_action, settings.subscribe_url
    elif kind == "metered":
        title, action = settings.cta_metered_title, settings.cta_metered_action
        url = trial_url(settings, next_path)
    else:
        title, action = settings.cta_offer_title, settings.cta_offer_action
        url = trial_url(settings, next_path)
    values = {
        "title": html.escape(fill_text(settings, title)),
        "action": html.escape(fill_text(settings, action)),
        "url": html.escape(url, quote=True),
        "trial_days": str(settings.trial_days),
        "free_articles": str(settings.free_articles),
    }
    return string.Template(settings.cta_template).safe_substitute(values)


def fallback_page(settings: PaywallSettings, cta_html: str, *, head_html: str = "") -> bytes:
    """A page of its own, for when a gated page could not be cut safely.

    The reader still gets a way forward (the call to action), never the text.
    """
    named = settings.site_name != PaywallSettings.__dataclass_fields__["site_name"].default
    site = f'<p class="paywall-fallback__site">{html.escape(settings.site_name)}</p>' if named else ""
    doc = (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{html.escape(settings.site_name) + ': ' if named else ''}Continue reading</title>"
        f"{head_html}</head>"
        '<body><main class="paywall-fallback">'
        f"{site}"
        f"{cta_html}"
        "</main></body></html>"
    )
    return doc.encode("utf-8")
