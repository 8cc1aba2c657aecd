"""HTML of the paywall's own pages: the trial form and its answers.

The pages are self-contained (one small ``<style>`` block, no script, no
external request) so they work on any site and under a strict
Content-Security-Policy: :data:`PAGE_CSP` allows exactly that style block by
its hash. Every value put into a page is HTML-escaped here, including the
publisher's settings.

Publishers replace the trial page with ``trial_template`` (``string.Template``
syntax). The placeholders it may use are listed in
:data:`paywall.settings.TRIAL_PLACEHOLDERS` and checked when settings are made;
all values are already escaped, ``$form`` and ``$error_html`` are ready-made
HTML.
"""

from __future__ import annotations

import base64
import hashlib
import html
import string
from dataclasses import dataclass
from typing import Literal

from ..settings import PaywallSettings
from .cta import fill_text

_CSS = """
:root{color-scheme:light dark;--fg:#1b1b1f;--muted:#55575d;--bg:#f4f4f6;--card:#fff;--accent:#0b57d0;
--accent-fg:#fff;--err:#b3261e;--border:#c7c7cc}
@media (prefers-color-scheme:dark){:root{--fg:#ececf0;--muted:#b4b6bd;--bg:#141416;--card:#1f1f23;
--accent:#a8c7fa;--accent-fg:#062e6f;--err:#f2b8b5;--border:#44464c}}
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;padding:1.5rem;
background:var(--bg);color:var(--fg);font:1.0625rem/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{width:100%;max-width:30rem;background:var(--card);border:1px solid var(--border);border-radius:14px;
padding:2rem 1.75rem;box-shadow:0 6px 24px rgb(0 0 0/.08)}
.site{margin:0 0 .25rem;color:var(--muted);font-size:.9rem;letter-spacing:.04em;text-transform:uppercase}
h1{margin:0 0 .75rem;font-size:1.6rem;line-height:1.25}
p{margin:0 0 1rem}
label{display:block;font-weight:600;margin:0 0 .35rem}
input[type=email]{width:100%;padding:.7rem .8rem;font:inherit;color:inherit;background:transparent;
border:1px solid var(--border);border-radius:8px}
.consent{display:flex;gap:.6rem;align-items:flex-start;margin:1rem 0 1.25rem;font-weight:400}
.consent input{margin-top:.3rem;width:1.1rem;height:1.1rem;flex:none}
button,.button{display:inline-block;width:100%;padding:.8rem 1rem;border:0;border-radius:8px;cursor:pointer;
background:var(--accent);color:var(--accent-fg);font:inherit;font-weight:700;text-align:center;text-decoration:none}
.secondary{display:block;margin-top:1rem;text-align:center}
a{color:var(--accent)}
:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
.error{border-left:4px solid var(--err);padding:.5rem .75rem;color:var(--err);font-weight:600}
.field{margin:0 0 .5rem}
.hint{color:var(--muted);font-size:.9rem}
"""

#: Content-Security-Policy for the built-in pages: nothing but their own style block.
PAGE_CSP = (
    "default-src 'none'; style-src 'sha256-"
    + base64.b64encode(hashlib.sha256(_CSS.encode()).digest()).decode()
    + "'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
#: Content-Security-Policy when a ``trial_template`` replaces the page: what cannot break it.
TEMPLATE_CSP = "form-action 'self'; base-uri 'none'; frame-ancestors 'none'; object-src 'none'"


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def page(settings: PaywallSettings, *, title: str, body_html: str) -> str:
    """A complete page around ``body_html`` (already safe HTML); ``title`` is escaped here.

    Without a ``site_name`` the page names no site (never "this site").
    """
    name = settings.site_name.strip()
    full_title = f"{esc(title)} · {esc(name)}" if name else esc(title)
    site = f'<p class="site">{esc(name)}</p>' if name else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex, nofollow">'
        f"<title>{full_title}</title>"
        f"<style>{_CSS}</style></head>"
        f"<body><main>{site}{body_html}</main></body></html>\n"
    )


def trial_title(settings: PaywallSettings) -> str:
    return f"Start your {settings.trial_days}-day free trial"


@dataclass(frozen=True, slots=True)
class TrialForm:
    """What the trial page shows; every field is raw text, escaped when rendered."""

    action: str
    next_path: str
    csrf_token: str
    #: The article the reader came from (the call to action's ``a``), carried to the submission.
    article: str = ""
    email: str = ""
    error: str = ""
    #: The field the error is about: it alone is marked invalid for assistive technology.
    error_field: Literal["email", "consent"] = "email"


def render_trial_form(settings: PaywallSettings, form: TrialForm) -> str:
    title = trial_title(settings)
    error_html = f'<p class="error" id="trial-error" role="alert">{esc(form.error)}</p>' if form.error else ""
    invalid = ' aria-describedby="trial-error" aria-invalid="true"'
    described = invalid if form.error and form.error_field == "email" else ""
    consent_described = invalid if form.error and form.error_field == "consent" else ""
    form_html = (
        f'<form method="post" action="{esc(form.action)}" novalidate>'
        f'<input type="hidden" name="csrf" value="{esc(form.csrf_token)}">'
        f'<input type="hidden" name="next" value="{esc(form.next_path)}">'
        + (f'<input type="hidden" name="a" value="{esc(form.article)}">' if form.article else "")
        + '<div class="field"><label for="trial-email">E-mail address</label>'
        f'<input type="email" id="trial-email" name="email" value="{esc(form.email)}" required '
        f'autocomplete="email" inputmode="email" maxlength="254" spellcheck="false"{described}></div>'
        f'<label class="consent"><input type="checkbox" name="consent" value="yes" required{consent_described}>'
        "<span>I agree to the "
        f'<a href="{esc(settings.privacy_url)}">privacy policy</a> and '
        f'<a href="{esc(settings.terms_url)}">terms of use</a> of {esc(settings.site_name.strip() or "this site")}.'
        "</span></label>"
        f'<button type="submit">{esc(title)}</button>'
        "</form>"
    )
    if settings.trial_template is not None:
        values = {
            "title": esc(title),
            "site_name": esc(settings.site_name),
            "trial_days": esc(settings.trial_days),
            "action": esc(form.action),
            "next": esc(form.next_path),
            "csrf_token": esc(form.csrf_token),
            "email": esc(form.email),
            "error": esc(form.error),
            "error_html": error_html,
            "privacy_url": esc(settings.privacy_url),
            "terms_url": esc(settings.terms_url),
            "subscribe_url": esc(settings.subscribe_url),
            "form": form_html,
        }
        return string.Template(settings.trial_template).safe_substitute(values)
    body = (
        f"<h1>{esc(title)}</h1>"
        f"<p>Read every article in full for {esc(settings.trial_days)} days. No payment details needed.</p>"
        f"{error_html}{form_html}"
        f'<a class="secondary" href="{esc(form.next_path)}">Back to the article</a>'
    )
    return page(settings, title=title, body_html=body)


def render_message(
    settings: PaywallSettings,
    *,
    title: str,
    message: str,
    actions: tuple[tuple[str, str], ...] = (),
) -> str:
    """A page that explains and offers a way forward: ``actions`` are (label, URL) pairs, first is primary."""
    links = "".join(
        f'<a class="{"button" if i == 0 else "secondary"}" href="{esc(url)}">{esc(label)}</a>'
        for i, (label, url) in enumerate(actions)
    )
    body = f"<h1>{esc(title)}</h1><p>{esc(message)}</p>{links}"
    return page(settings, title=title, body_html=body)


def ended_title(settings: PaywallSettings) -> str:
    return fill_text(settings, settings.cta_ended_title)


def ended_action(settings: PaywallSettings) -> str:
    return fill_text(settings, settings.cta_ended_action)
