"""A short run of ``bench/load.py``: many readers of every kind at once, real uvicorn servers.

The full run (200 clients, 60 s) is the bench script; this one checks, in a few
seconds, what must hold at any length: no errors, no leak in any non-member's
page, members and trial readers get the whole article, and the servers log no
exception. On SQLite with one instance, and on Redis with two instances sharing it.
"""

from __future__ import annotations

import pytest

from bench.load import KINDS, report, run


def _check(outcome: object) -> None:
    from bench.load import Outcome

    assert isinstance(outcome, Outcome)
    report(outcome, windows=3)
    assert not outcome.errors, outcome.errors
    assert outcome.leaks == 0
    kinds = {sample.kind for sample in outcome.samples}
    assert kinds == set(KINDS)
    assert outcome.requests > 100
    assert all(len(series) >= 2 for series in outcome.rss.values())  # memory was sampled


def test_short_load_on_sqlite() -> None:
    _check(run("sqlite", clients=24, duration=3))


@pytest.mark.redis
def test_short_load_on_redis_with_two_instances() -> None:
    outcome = run("redis", clients=24, duration=3, instances=2)
    _check(outcome)
    assert len(outcome.rss) == 2
    # A trial reader costs one store read; members, static files and unmetered non-members none.
    ops = outcome.store_ops
    assert ops["trial reader"] == 1 and ops["static"] == ops["member"] == ops["non-member"] == 0
    assert ops["metered, re-read"] == 1 and ops["metered, new article"] >= 1
