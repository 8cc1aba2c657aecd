"""The publisher's figures, from the store's event counts: the funnel, articles, days and experiments.

One function, :func:`build_report`, turns counts into a plain dictionary that
``paywall stats --json`` prints as it is and the dashboard draws, so both
always show the same numbers.

Conversion is trials started per wall shown (views, not distinct readers: a
reader who meets the wall twice counts twice). Each variant's rate comes with
a 95% Wilson interval, which stays honest for small counts and rates near
zero; each variant is compared with the first (the control) by a two-sided
two-proportion z-test, at 5% shared between the comparisons (Bonferroni). A
difference is called significant only when the normal approximation holds
(at least 5 trials started and 5 walls without one in both groups), so a
handful of early trials never declares a winner.
"""

from __future__ import annotations

import datetime
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from ..access.store.base import EVENT_RETENTION_DAYS, EventCount

#: z for a two-sided 95% interval.
Z95 = 1.959963984540054
ALPHA = 0.05
#: Trials started and walls without one that each group needs before a difference is judged.
MIN_EACH = 5
TOP_ARTICLES = 10

_SINCE = re.compile(r"(\d{1,4})d")
_FUNNEL_KINDS = {
    "wall_shown": "walls_shown",
    "trial_page_viewed": "trial_page_views",
    "trial_started": "trials_started",
    "trial_refused": "trials_refused",
    "metered_view": "metered_views",
    "member_view": "member_views",
    "crawler_view": "crawler_views",
    "copy_blocked": "copies_blocked",
}


def parse_since(text: str, today: datetime.date) -> datetime.date:
    """``30d`` (the last 30 days, today included) or an ISO date; ValueError otherwise."""
    text = text.strip()
    match = _SINCE.fullmatch(text)
    if match:
        days = int(match.group(1))
        if not 1 <= days <= EVENT_RETENTION_DAYS:
            raise ValueError(f"must be between 1d and {EVENT_RETENTION_DAYS}d")
        return today - datetime.timedelta(days=days - 1)
    try:
        since = datetime.date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        since = None
    if since is None:
        raise ValueError(f"expected a number of days like 30d, or a date like 2026-11-01, got {text!r}")
    if since > today:
        raise ValueError(f"{text} is in the future")
    return max(since, today - datetime.timedelta(days=EVENT_RETENTION_DAYS - 1))


def rate(successes: int, trials: int) -> float | None:
    return successes / trials if trials else None


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion, or None without trials."""
    if trials <= 0:
        return None
    successes = min(successes, trials)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(centre - half, 0.0), min(centre + half, 1.0)


def compare(x1: int, n1: int, x2: int, n2: int, *, alpha: float = ALPHA) -> dict[str, Any]:
    """Group 2 against group 1: difference of rates, its 95% interval, the z-test's p-value, the verdict."""
    x1, x2 = min(x1, n1), min(x2, n2)
    if not n1 or not n2:
        return {"difference": None, "difference_low": None, "difference_high": None, "p_value": None,
                "significant": False, "enough_data": False}  # fmt: skip
    p1, p2 = x1 / n1, x2 / n2
    difference = p2 - p1
    spread = Z95 * math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    p_value = 1.0 if se == 0 else math.erfc(abs(difference) / se / math.sqrt(2))
    enough = min(x1, n1 - x1, x2, n2 - x2) >= MIN_EACH
    return {
        "difference": difference,
        "difference_low": difference - spread,
        "difference_high": difference + spread,
        "p_value": p_value,
        "significant": enough and p_value < alpha,
        "enough_data": enough,
    }


def _funnel(totals: dict[str, int]) -> dict[str, Any]:
    out: dict[str, Any] = {name: totals.get(kind, 0) for kind, name in _FUNNEL_KINDS.items()}
    out["trials_started_in_cta"] = totals.get("trial_started/cta", 0)
    out["trials_started_on_page"] = totals.get("trial_started/page", 0)
    out["conversion_rate"] = rate(out["trials_started"], out["walls_shown"])
    return out


def build_report(
    counts: Iterable[EventCount],
    *,
    since: datetime.date,
    until: datetime.date,
    variants: Sequence[str] = (),
) -> dict[str, Any]:
    """Everything ``paywall stats`` and the dashboard show, as plain JSON-ready values.

    ``variants`` are the configured variant names, the control first; variants
    found in the counts but no longer configured are listed after them.
    """
    overall: dict[str, int] = defaultdict(int)
    articles: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    by_variant: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    by_day: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for c in counts:
        for table in (overall, articles[c.article], by_day[c.day]):
            table[c.kind] += c.count
        if c.kind == "trial_started":
            overall[f"trial_started/{c.detail}"] += c.count
        if c.variant:
            by_variant[c.variant][c.kind] += c.count

    article_rows: list[dict[str, Any]] = [
        {
            "article": article,
            "walls_shown": t["wall_shown"],
            "trial_page_views": t["trial_page_viewed"],
            "trials_started": t["trial_started"],
            "conversion_rate": rate(t["trial_started"], t["wall_shown"]),
        }
        for article, t in articles.items()
        if article and (t["wall_shown"] or t["trial_page_viewed"] or t["trial_started"])
    ]
    article_rows.sort(key=lambda r: (-r["trials_started"], -r["walls_shown"], r["article"]))

    days = (until - since).days + 1
    daily = []
    for n in range(days):
        day = (since + datetime.timedelta(days=n)).isoformat()
        t = by_day.get(day, {})
        daily.append({"day": day, "walls_shown": t.get("wall_shown", 0), "trials_started": t.get("trial_started", 0)})

    names = list(variants) + sorted(set(by_variant) - set(variants))
    variant_rows = []
    control = names[0] if names else ""
    shares = max(len(names) - 1, 1)
    for name in names:
        t = by_variant.get(name, {})
        walls, trials = t.get("wall_shown", 0), t.get("trial_started", 0)
        interval = wilson(trials, walls)
        row: dict[str, Any] = {
            "variant": name,
            "configured": name in variants,
            "walls_shown": walls,
            "trials_started": trials,
            "conversion_rate": rate(trials, walls),
            "rate_low": interval[0] if interval else None,
            "rate_high": interval[1] if interval else None,
        }
        if name != control:
            base = by_variant.get(control, {})
            row["vs_control"] = compare(
                base.get("trial_started", 0), base.get("wall_shown", 0), trials, walls, alpha=ALPHA / shares
            )
        variant_rows.append(row)

    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "funnel": _funnel(overall),
        "articles": article_rows,
        "top_articles": article_rows[:TOP_ARTICLES],
        "daily": daily,
        "variants": variant_rows,
        "experiment": {"control": control, "alpha": ALPHA / shares, "verdicts": verdicts(variant_rows)},
    }


def percent(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value * 100:.{digits}f}%"


def verdicts(rows: Sequence[dict[str, Any]]) -> list[str]:
    """One sentence per variant compared with the control, for people."""
    if len(rows) < 2:
        return []
    control = rows[0]
    out = []
    for row in rows[1:]:
        versus = row["vs_control"]
        head = (
            f"{row['variant']} converts {percent(row['conversion_rate'])} against "
            f"{percent(control['conversion_rate'])} for {control['variant']}"
        )
        if not versus["enough_data"]:
            need = f"{MIN_EACH} trials started and {MIN_EACH} walls without one in each"
            out.append(f"{head}: not enough data yet ({need})")
            continue
        points = f"{versus['difference'] * 100:+.1f} points (95% CI {versus['difference_low'] * 100:+.1f} to " \
            f"{versus['difference_high'] * 100:+.1f}), p = {versus['p_value']:.3g}"  # fmt: skip
        word = "significant" if versus["significant"] else "not significant"
        out.append(f"{head}: {points}: {word}")
    return out
