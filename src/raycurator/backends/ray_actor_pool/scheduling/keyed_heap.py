"""A min-heap of items whose keys change: the item with the smallest key, in logarithmic time.

The scheduler's decisions pick "the best node" or "the best actor" by a key that changes with
every call started or finished. Scanning all candidates per decision costs O(nodes) per event;
this heap makes it O(log n). Changing an item's key pushes a new entry and leaves the old one
behind (lazy deletion): stale entries are dropped when they reach the top, and the heap is
rebuilt from the live keys once stale entries outnumber them, so its size stays within about
twice the number of items. Built on the standard library's `heapq`.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable
from typing import Any, Generic, TypeVar

T = TypeVar("T", bound=Hashable)

_COMPACT_SLACK = 64  # stale entries tolerated beyond the live ones before a rebuild


class KeyedMinHeap(Generic[T]):
    """Items with a key each; `first()` is the item with the smallest key.

    Keys are tuples compared as usual; two items with equal keys are ordered by the item itself,
    so items must be comparable too when keys can tie (callers end their keys with a unique value).
    """

    __slots__ = ("_heap", "_keys")

    def __init__(self) -> None:
        self._keys: dict[T, tuple[Any, ...]] = {}
        self._heap: list[tuple[tuple[Any, ...], T]] = []

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, item: object) -> bool:
        return item in self._keys

    def key(self, item: T) -> tuple[Any, ...] | None:
        """The item's current key (None when absent)."""
        return self._keys.get(item)

    def set(self, item: T, key: tuple[Any, ...]) -> None:
        """Add `item` with `key`, or change its key."""
        keys = self._keys
        if keys.get(item) == key:
            return
        keys[item] = key
        heapq.heappush(self._heap, (key, item))
        if len(self._heap) > 2 * len(keys) + _COMPACT_SLACK:
            self._compact()

    def discard(self, item: T) -> None:
        """Remove `item` if present."""
        if self._keys.pop(item, None) is not None and len(self._heap) > 2 * len(self._keys) + _COMPACT_SLACK:
            self._compact()

    def first(self) -> T | None:
        """The item with the smallest key (None when empty)."""
        heap, keys = self._heap, self._keys
        while heap:
            key, item = heap[0]
            if keys.get(item) == key:
                return item
            heapq.heappop(heap)  # stale: the item's key changed or it was removed
        return None

    def _compact(self) -> None:
        """Rebuild the heap from the live keys (stale entries outnumber them)."""
        self._heap = [(key, item) for item, key in self._keys.items()]
        heapq.heapify(self._heap)
