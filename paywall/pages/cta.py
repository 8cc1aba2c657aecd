"""The call to action that stands where the rest of an article was.

Its words must tell the truth about the reader's situation, so there are
three kinds: a trial ``offer``, a trial that has ``ended`` (no second offer),
and ``metered`` free articles used up. Every value put into the template is
HTML-escaped; the template itself is the publisher's.
"""

from __future__ import annotations

import html
import string
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal
from urllib.parse import quote

from ..settings import DEFAULT_CTA_FORM_TEMPLATE, DEFAULT_CTA_TEMPLATE, PaywallSettings

if TYPE_CHECKING:
    from ..variants import Variant

CtaKind = Literal["offer", "ended", "metered"]


def fill_text(settings: PaywallSettings, template: str) -> str:
    """A call-to-action text with ``$trial_days`` and ``$free_articles`` filled in."""
    values = {"trial_days": str(settings.trial_days), "free_articles": str(settings.free_articles)}
    return string.Template(template).safe_substitute(values)


def trial_url(settings: PaywallSettings, next_path: str) -> str:
    """Link to the trial page that brings the reader back to ``next_path``."""
    return f"{settings.trial_path()}?next={quote(next_path, safe='/')}"


def render_cta(
    settings: PaywallSettings,
    kind: CtaKind,
    next_path: str,
    *,
    variant: Variant | None = None,
    form: TrialFormFields | None = None,
) -> str:
    """The call to action; a ``variant`` changes the words of a trial offer, ``form`` puts the trial form in it."""
    template = settings.cta_template
    if kind == "ended":
        title, action, url = settings.cta_ended_title, settings.cta_ended_action, settings.subscribe_url
        form = None
    else:
        if kind == "metered":
            title, action = settings.cta_metered_title, settings.cta_metered_action
        else:
            title = (variant and variant.title) or settings.cta_offer_title
            action = settings.cta_offer_action
        action = (variant and variant.action) or action
        url = trial_url(settings, next_path)
        if form is not None and template == DEFAULT_CTA_TEMPLATE:
            template = DEFAULT_CTA_FORM_TEMPLATE
    values = {
        "title": html.escape(fill_text(settings, title)),
        "action": html.escape(fill_text(settings, action)),
        "url": html.escape(url, quote=True),
        "form": "" if form is None else render_cta_form(settings, form, fill_text(settings, action)),
        "trial_days": str(settings.trial_days),
        "free_articles": str(settings.free_articles),
    }
    return string.Template(template).safe_substitute(values)


@dataclass(frozen=True, slots=True)
class TrialFormFields:
    """The hidden fields of the trial form in a call to action (raw text, escaped when rendered)."""

    csrf_token: str
    next_path: str
    article: str


def render_cta_form(settings: PaywallSettings, fields: TrialFormFields, action: str) -> str:
    """The trial form inside the call to action: the reader starts a trial without leaving the article.

    It posts to the trial page's own address, so the same checks apply (CSRF
    token bound to the device, consent, one trial per e-mail and device), and
    works without JavaScript; ``via=cta`` tells the statistics which path was taken.
    """
    esc = html.escape
    return (
        f'<form class="paywall-cta__form" method="post" action="{esc(settings.trial_path())}">'
        f'<input type="hidden" name="csrf" value="{esc(fields.csrf_token)}">'
        f'<input type="hidden" name="next" value="{esc(fields.next_path)}">'
        f'<input type="hidden" name="a" value="{esc(fields.article)}">'
        '<input type="hidden" name="via" value="cta">'
        '<label class="paywall-cta__label" for="paywall-cta-email">E-mail address</label>'
        '<input class="paywall-cta__email" type="email" id="paywall-cta-email" name="email" required '
        'autocomplete="email" inputmode="email" maxlength="254" spellcheck="false">'
        '<label class="paywall-cta__consent"><input type="checkbox" name="consent" value="yes" required> '
        f'<span>I agree to the <a href="{esc(settings.privacy_url)}">privacy policy</a> and '
        f'<a href="{esc(settings.terms_url)}">terms of use</a> of {esc(settings.site_name)}.</span></label>'
        f'<button class="paywall-cta__button" type="submit">{esc(action)}</button>'
        "</form>"
    )


READ_ON = "Read the whole article"
"""The link where a feed item or a JSON body is cut."""


def render_read_on(settings: PaywallSettings, url: str) -> str:
    """The call to action where a feed item's or a JSON body's HTML is cut: one line, one link.

    It links to ``url``, the article's own page, where the reader meets the
    full call to action (a trial, a subscription, metered free articles) that
    suits them: a feed or an API answer is the same for every non-member.
    """
    title = html.escape(fill_text(settings, settings.cta_offer_title))
    return (
        f'<p class="paywall-read-on" data-paywall-cta>{title} '
        f'<a href="{html.escape(url, quote=True)}">{READ_ON}</a></p>'
    )


def read_on_text(settings: PaywallSettings, url: str) -> str:
    """:func:`render_read_on` as plain text, for bodies that are not HTML."""
    return f"{fill_text(settings, settings.cta_offer_title)} {READ_ON}: {url}"


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
