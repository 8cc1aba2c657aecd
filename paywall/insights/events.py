"""What the publisher's statistics are made of: counted events, written off the request path.

A request never waits for the store to count it. :meth:`EventBuffer.record`
adds one to an in-memory tally keyed by day, kind, article, variant and
detail; a background task adds the tally to the store in one batch about once
a second (:meth:`~paywall.access.store.base.Store.add_event_counts`), one batch in
flight at a time. Because equal events fold into one number, a slow or absent
store costs memory in proportion to the number of distinct keys, never to the
traffic, and that number is capped: past :data:`MAX_PENDING_KEYS` new keys are
dropped (and counted as dropped) until the store catches up. A failed batch is
put back and tried again with a growing pause.

Events hold no e-mail address and no IP address: nothing that identifies a
reader is ever recorded, and :func:`redact` takes out of an article's address
any text that looks like one (``/story?email=ann@example.com``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from typing import Final, Literal

from ..access.store.base import EventCount, Store

logger = logging.getLogger("paywall")

Kind = Literal[
    "wall_shown",
    "trial_page_viewed",
    "trial_started",
    "trial_refused",
    "metered_view",
    "member_view",
    "crawler_view",
    "copy_blocked",
]
KINDS: Final[tuple[Kind, ...]] = (
    "wall_shown",  # a non-member got the teaser and the call to action; detail: offer, metered, ended
    "trial_page_viewed",  # the trial page was opened
    "trial_started",  # detail: cta (the form in the call to action) or page (the trial page)
    "trial_refused",  # detail: email_taken or device_taken
    "metered_view",  # a free article of the monthly meter was read in full
    "member_view",  # a member's or trial reader's page; detail: member or trial
    "crawler_view",  # a verified search crawler read an article; detail: the crawler's name
    "copy_blocked",  # the protection script stopped a copy (a beacon, rate-limited per reader)
)

#: Distinct keys waiting for the store, at most.
MAX_PENDING_KEYS = 10_000
#: Longest article key kept (longer ones are cut).
MAX_ARTICLE_LENGTH = 512
#: Longest pause between two tries while the store is failing.
MAX_RETRY_INTERVAL = 60.0

_EMAIL = re.compile(r"[^/?&=#\s]*(?:@|%40)[^/?&=#\s]*", re.IGNORECASE)
_IPV4 = re.compile(r"(?<![0-9.])\d{1,3}(?:\.\d{1,3}){3}(?![0-9.])")
_IPV6 = re.compile(r"(?<![0-9a-f:%])(?:[0-9a-f]{0,4}(?::|%3a)){2,7}[0-9a-f]{0,4}(?![0-9a-f:%])", re.IGNORECASE)


@functools.lru_cache(maxsize=4096)
def redact(article: str) -> str:
    """``article`` without anything that looks like an e-mail or IP address, and at most 512 characters.

    Remembered for the last few thousand articles: the same pages are counted over and over.
    """
    for pattern, stand_in in ((_EMAIL, "[email]"), (_IPV4, "[ip]"), (_IPV6, "[ip]")):
        article = pattern.sub(stand_in, article)
    return article[:MAX_ARTICLE_LENGTH]


def utc_day(now: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(now))


class EventBuffer:
    """Tallies events in memory and adds them to the store in batches, off the request path.

    ``clock`` gives the time events are dated by; ``interval`` is the pause
    before a batch is written (tests shorten it).
    """

    def __init__(self, store: Store, *, interval: float = 1.0, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.interval = interval
        self.clock = clock
        self.dropped = 0
        self._pending: Counter[tuple[str, str, str, str, str]] = Counter()
        self._task: asyncio.Task[None] | None = None
        self._closing: asyncio.Event | None = None
        #: The day events are dated by, and the clock's range in which it holds (one strftime a day).
        self._day = ("", 0.0, 0.0)

    def record(self, kind: Kind, *, article: str = "", variant: str = "", detail: str = "") -> None:
        """Count one event; never waits and never raises."""
        # The day as :meth:`_today` gives it, without its call on the way (one per page served).
        now = self.clock()
        day, start, end = self._day
        key = (day if start <= now < end else self._today(), kind, redact(article), variant, detail)
        pending, task = self._pending, self._task
        counted = pending.get(key)
        if counted is not None and task is not None and not task.done():
            pending[key] = counted + 1  # most events: a batch that holds this key waits for the store, its task awake
            return
        if counted is None and len(pending) >= MAX_PENDING_KEYS:
            self.dropped += 1
            return
        pending[key] = (counted or 0) + 1
        self._wake()

    def _today(self) -> str:
        now = self.clock()
        day, start, end = self._day
        if not start <= now < end:
            start = now - now % 86400
            day, end = utc_day(now), start + 86400
            self._day = (day, start, end)
        return day

    def _wake(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop: the next record or close writes the batch
            return
        task = self._task
        if task is not None and not task.done() and task.get_loop() is loop:
            return
        self._closing = asyncio.Event()
        self._task = loop.create_task(self._run(self._closing))

    async def _run(self, closing: asyncio.Event) -> None:
        pause = self.interval
        while self._pending and not closing.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(closing.wait(), pause)
            pause = self.interval if await self.flush() else min(pause * 2, MAX_RETRY_INTERVAL)

    async def flush(self) -> bool:
        """Write what is pending now; False (and the batch kept for later) when the store failed."""
        batch, self._pending = self._pending, Counter()
        if not batch:
            return True
        try:
            await self.store.add_event_counts([EventCount(*key, count=n) for key, n in batch.items()])
        except Exception as exc:
            lost = 0
            for key, n in batch.items():
                if key in self._pending or len(self._pending) < MAX_PENDING_KEYS:
                    self._pending[key] += n
                else:
                    lost += n
            self.dropped += lost
            logger.warning("paywall: could not write %d event counts, will retry (%s)", len(batch), exc)
            return False
        if self.dropped:
            logger.warning("paywall: %d events were dropped while the store was slow", self.dropped)
            self.dropped = 0
        return True

    async def aclose(self) -> None:
        """Write what is pending (the server is shutting down)."""
        task, closing = self._task, self._closing
        running = task is not None and not task.done() and task.get_loop() is asyncio.get_running_loop()
        if task is not None and closing is not None and running:
            closing.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), 10)
        await self.flush()


class RateLimiter:
    """A token bucket per key: ``burst`` at once, one more every ``every`` seconds.

    At most ``max_keys`` keys are remembered (least recently seen go first), so
    memory stays bounded whatever the number of clients.
    """

    def __init__(self, *, burst: int, every: float, max_keys: int = 50_000) -> None:
        self.burst = burst
        self.every = every
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, key: str, now: float, *, spend: bool = True) -> bool:
        """Whether ``key`` has a token left; ``spend=False`` only looks."""
        tokens, last = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + max(now - last, 0.0) / self.every)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed and spend else tokens, now)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return allowed
