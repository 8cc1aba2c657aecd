"""The dashboard's HTML: charts drawn as inline SVG, one style block, no script, no external resource.

Everything comes from the report of :func:`~paywall.insights.stats.build_report`
and every text in it is escaped (article addresses are what readers asked
for). :data:`DASHBOARD_CSP` allows the style block by its hash and nothing
else, so the page could not load a script or a font even if one crept in.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from typing import Any

from ..pages.templates import esc
from ..settings import PaywallSettings
from .stats import percent

_CSS = """
:root{color-scheme:light dark;--fg:#1b1b1f;--muted:#5b5e66;--bg:#f4f4f6;--card:#fff;--line:#d5d6db;
--walls:#1a56a8;--trials:#1e7b4a;--views:#a15c00}
@media (prefers-color-scheme:dark){:root{--fg:#ececf0;--muted:#b4b6bd;--bg:#141416;--card:#1f1f23;--line:#3a3c42;
--walls:#8ab4f8;--trials:#7bd3a0;--views:#f0b060}}
*{box-sizing:border-box}
body{margin:0;padding:1.5rem;background:var(--bg);color:var(--fg);
font:0.95rem/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header{display:flex;flex-wrap:wrap;gap:1rem;align-items:baseline;justify-content:space-between;margin:0 0 1rem}
h1{margin:0;font-size:1.5rem}
h2{margin:0 0 .75rem;font-size:1.1rem}
section{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:1.25rem;margin:0 0 1.25rem}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(22rem,1fr));gap:1.25rem;margin:0 0 1.25rem}
.grid section{margin:0}
.kpis{display:flex;flex-wrap:wrap;gap:1.5rem;margin:0;padding:0;list-style:none}
.kpis li{min-width:8rem}
.kpis strong{display:block;font-size:1.6rem}
.muted{color:var(--muted)}
svg{display:block;width:100%;height:auto}
svg text{fill:var(--muted);font:11px system-ui,sans-serif}
svg .value{fill:var(--fg);font-weight:600}
.walls{fill:var(--walls)}
.trials{fill:var(--trials)}
.views{fill:var(--views)}
.axis{stroke:var(--line)}
table{width:100%;border-collapse:collapse}
th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
td.article{word-break:break-all}
form{display:flex;gap:.5rem;align-items:center}
select,button{font:inherit;padding:.3rem .5rem}
"""

#: Content-Security-Policy of the dashboard: its own style block, an empty favicon, nothing else.
DASHBOARD_CSP = (
    "default-src 'none'; style-src 'sha256-"
    + base64.b64encode(hashlib.sha256(_CSS.encode()).digest()).decode()
    + "'; img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)

_PERIODS = (("7d", "Last 7 days"), ("30d", "Last 30 days"), ("90d", "Last 90 days"), ("365d", "Last 365 days"))


def _nice_max(value: int) -> int:
    """The round number (1, 2 or 5 times a power of ten) at or above ``value``, for the top of an axis."""
    if value <= 1:
        return 1
    magnitude = 10 ** (len(str(value)) - 1)
    return next(int(m * magnitude) for m in (1, 2, 5, 10) if m * magnitude >= value)


def daily_chart(days: Sequence[dict[str, Any]], key: str, label: str, css: str) -> str:
    """Bars of ``key`` per day, with the top value and the first and last dates on the axis."""
    width, height, left, bottom, top_pad = 720, 180, 36, 22, 10
    plot_w, plot_h = width - left - 4, height - bottom - top_pad
    values = [int(d[key]) for d in days]
    top = _nice_max(max(values, default=0))
    step = plot_w / max(len(values), 1)
    bars = []
    for i, (day, value) in enumerate(zip(days, values, strict=True)):
        h = plot_h * value / top if top else 0
        x, y = left + i * step + step * 0.15, top_pad + plot_h - h
        bars.append(
            f'<rect class="{css}" x="{x:.1f}" y="{y:.1f}" width="{step * 0.7:.1f}" height="{h:.1f}">'
            f"<title>{esc(day['day'])}: {value} {esc(label.lower())}</title></rect>"
        )
    axis_y = top_pad + plot_h
    first, last = (days[0]["day"], days[-1]["day"]) if days else ("", "")
    return (
        f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{esc(label)} per day, {sum(values)} in all">'
        f'<line class="axis" x1="{left}" y1="{axis_y}" x2="{width - 4}" y2="{axis_y}" stroke-width="1"/>'
        f'<line class="axis" x1="{left}" y1="{top_pad}" x2="{width - 4}" y2="{top_pad}" stroke-width="1"'
        ' stroke-dasharray="3 3"/>'
        f'<text x="{left - 6}" y="{top_pad + 4}" text-anchor="end">{top}</text>'
        f'<text x="{left - 6}" y="{axis_y + 4}" text-anchor="end">0</text>'
        f"{''.join(bars)}"
        f'<text x="{left}" y="{height - 6}">{esc(first)}</text>'
        f'<text x="{width - 4}" y="{height - 6}" text-anchor="end">{esc(last)}</text>'
        "</svg>"
    )


def funnel_chart(funnel: dict[str, Any]) -> str:
    """Horizontal bars: walls shown, trial page views, trials started (with its two paths)."""
    steps = [
        ("Walls shown", int(funnel["walls_shown"]), "walls"),
        ("Trial page views", int(funnel["trial_page_views"]), "views"),
        ("Trials started", int(funnel["trials_started"]), "trials"),
    ]
    width, row, label_w = 720, 34, 150
    top = max((n for _, n, _ in steps), default=0) or 1
    parts = []
    for i, (name, value, css) in enumerate(steps):
        y = i * row + 4
        w = (width - label_w - 90) * value / top
        parts.append(
            f'<text x="0" y="{y + 17}">{esc(name)}</text>'
            f'<rect class="{css}" x="{label_w}" y="{y}" width="{w:.1f}" height="{row - 12}" rx="3">'
            f"<title>{esc(name)}: {value}</title></rect>"
            f'<text class="value" x="{label_w + w + 8:.1f}" y="{y + 17}">{value}</text>'
        )
    return (
        f'<svg viewBox="0 0 {width} {row * len(steps) + 4}" role="img" aria-label="Funnel: '
        + esc(", ".join(f"{name} {value}" for name, value, _ in steps))
        + f'">{"".join(parts)}</svg>'
    )


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int = 1) -> str:
    head = "".join(
        f'<th{" class=n" if i >= numeric_from else ""} scope="col">{esc(h)}</th>' for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(f'<td class="{"n" if i >= numeric_from else "article"}">{c}</td>' for i, c in enumerate(r))
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_dashboard(settings: PaywallSettings, report: dict[str, Any], since: str) -> str:
    funnel = report["funnel"]
    kpis = [
        ("Walls shown", str(funnel["walls_shown"])),
        ("Trial page views", str(funnel["trial_page_views"])),
        ("Trials started", str(funnel["trials_started"])),
        ("Conversion", percent(funnel["conversion_rate"], 2)),
        ("Free articles read", str(funnel["metered_views"])),
        ("Member views", str(funnel["member_views"])),
        ("Copies blocked", str(funnel["copies_blocked"])),
    ]
    kpi_html = "".join(f'<li><strong data-kpi="{esc(k)}">{esc(v)}</strong>{esc(k)}</li>' for k, v in kpis)
    articles = _table(
        ("Article", "Walls shown", "Trial page views", "Trials started", "Conversion"),
        [
            (esc(a["article"]), str(a["walls_shown"]), str(a["trial_page_views"]), str(a["trials_started"]),
             percent(a["conversion_rate"], 2))
            for a in report["top_articles"]
        ],
    )  # fmt: skip
    if not report["top_articles"]:
        articles = '<p class="muted">No walls shown in this period.</p>'
    variants = '<p class="muted">No experiment: set <code>cta_variants</code> to compare calls to action.</p>'
    if report["variants"]:
        variants = _table(
            ("Variant", "Walls shown", "Trials started", "Conversion", "95% interval"),
            [
                (esc(v["variant"]) + ("" if v["configured"] else " (ended)"), str(v["walls_shown"]),
                 str(v["trials_started"]), percent(v["conversion_rate"], 2),
                 f"{percent(v['rate_low'], 2)} to {percent(v['rate_high'], 2)}" if v["rate_low"] is not None else "n/a")
                for v in report["variants"]
            ],
        ) + "".join(f'<p data-verdict>{esc(text)}</p>' for text in report["experiment"]["verdicts"])  # fmt: skip
    options = "".join(
        f'<option value="{value}"{" selected" if value == since else ""}>{label}</option>' for value, label in _PERIODS
    )
    paths = (
        f"{funnel['trials_started_in_cta']} from the form in the call to action, "
        f"{funnel['trials_started_on_page']} from the trial page; {funnel['trials_refused']} refused."
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex, nofollow"><link rel="icon" href="data:,">'
        f"<title>Insights · {esc(settings.site_name)}</title><style>{_CSS}</style></head><body>"
        f'<header><h1>Insights <span class="muted">· {esc(settings.site_name)}</span></h1>'
        f'<form method="get"><label for="since">Period</label><select id="since" name="since">{options}</select>'
        "<button type=submit>Show</button></form></header>"
        f'<p class="muted">{esc(report["since"])} to {esc(report["until"])} (UTC). Conversion is trials started '
        "per wall shown.</p>"
        f'<section><ul class="kpis">{kpi_html}</ul></section>'
        '<div class="grid">'
        f"<section><h2>Walls shown per day</h2>{daily_chart(report['daily'], 'walls_shown', 'Walls shown', 'walls')}"
        "</section>"
        "<section><h2>Trials started per day</h2>"
        f"{daily_chart(report['daily'], 'trials_started', 'Trials started', 'trials')}</section>"
        "</div>"
        f'<section><h2>Funnel</h2>{funnel_chart(funnel)}<p class="muted">{esc(paths)}</p></section>'
        f'<section id="top-articles"><h2>Top articles by trials started</h2>{articles}</section>'
        f'<section id="experiment"><h2>Call-to-action experiment</h2>{variants}</section>'
        "</body></html>\n"
    )
