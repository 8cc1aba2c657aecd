"""The README documents every setting, and its two opening commands stay true."""

from __future__ import annotations

import re
from pathlib import Path

from paywall.settings import PaywallSettings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_readme_lists_every_setting_with_its_default() -> None:
    rows = dict(re.findall(r"^\| `([a-z0-9_]+)` \| ([^|]+) \|", README, flags=re.MULTILINE))
    for name in PaywallSettings.field_names():
        assert name in rows, f"README's settings table lacks {name}"
    defaults = PaywallSettings(secret_key="k-0123456789abcdefghijklmnopqrst")
    for name in ("trial_days", "teaser_paragraphs", "max_body_bytes", "free_articles", "attribution_min_words"):
        assert rows[name].strip() == f"`{getattr(defaults, name)}`", name


def test_readme_opens_with_the_demo_and_test_commands() -> None:
    blocks = re.findall(r"```sh\n(.*?)\n```", README, flags=re.DOTALL)
    assert blocks[0].strip() == "python3 -m pip install -e . && paywall demo"
    assert blocks[1].strip().endswith("python3 -m pip install -e '.[test]' && python3 -m pytest")
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "python3 -m pip install -e '.[test]' && python3 -m pytest" in ci
