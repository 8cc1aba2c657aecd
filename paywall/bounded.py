"""A least-recently-used store bounded by the cost of its entries, shared by every memory the paywall keeps.

What the engine concluded about a page (:class:`paywall.http.cache.GateCache`),
where members' heads end and the last article at each path
(:mod:`paywall.http.cache`, :mod:`paywall.http.variants`), the words of a
site's stylesheets and scripts (:class:`paywall.engine.locate.BlockWords`):
each is a :class:`Bounded` with its own measure of cost (bytes, words).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

ENTRY_OVERHEAD = 200
"""Bytes a key and its bookkeeping cost, roughly (added to an entry's own bytes by stores counted in bytes)."""

K = TypeVar("K")
V = TypeVar("V")


class Bounded(Generic[K, V]):
    """Entries least recently used first out, each with its cost, within ``max_cost`` in all (and, when
    ``max_entries`` is given, at most that many entries). An entry that alone costs more is not kept."""

    def __init__(self, max_cost: int, max_entries: int | None = None) -> None:
        self.max_cost = max_cost
        self.max_entries = max_entries
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._size = 0

    def _get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        return entry[0]

    def _put(self, key: K, value: V, cost: int) -> None:
        if cost > self.max_cost:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self._size -= old[1]
        self._entries[key] = (value, cost)
        self._size += cost
        limit = self.max_entries
        while self._size > self.max_cost or (limit is not None and len(self._entries) > limit):
            _, (_, evicted) = self._entries.popitem(last=False)
            self._size -= evicted

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size(self) -> int:
        return self._size


__all__ = ["ENTRY_OVERHEAD", "Bounded"]
