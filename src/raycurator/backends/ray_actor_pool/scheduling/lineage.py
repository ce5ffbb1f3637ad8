"""Lineage of items back to their source partitions, for checkpoints.

Every item carries the keys of the source partitions it descends from. The tracker counts the
live items of each partition; when that count falls to zero and nothing of the partition failed,
every output of the partition has passed the last stage: the partition is finished.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from raycurator.backends.ray_actor_pool.scheduling.items import Item


class LineageTracker:
    """Counts live items per source partition and reports the partitions that finish."""

    def __init__(self, done: set[str], key_of: Callable[[Item], str]) -> None:
        self.done = done
        self.key_of = key_of
        self.outstanding: dict[str, int] = {}
        self.tainted: set[str] = set()
        self.total = 0
        self.skipped = 0
        self.finished: list[str] = []

    def admit(self, items: list[Item]) -> list[Item]:
        """Source partitions entering the run: drop those already finished, tag the others."""
        kept = []
        for item in items:
            key = self.key_of(item)
            self.total += 1
            if key in self.done:
                self.skipped += 1
                continue
            item.origins = frozenset({key})
            self.outstanding[key] = self.outstanding.get(key, 0) + 1
            kept.append(item)
        return kept

    def produced(self, origins: frozenset[str], count: int) -> None:
        """`count` new live items descend from `origins`."""
        for key in origins:
            self.outstanding[key] = self.outstanding.get(key, 0) + count

    def consumed(self, items: Iterable[Item]) -> None:
        """These items were processed (their outputs, if any, were counted first)."""
        for item in items:
            for key in item.origins:
                self.outstanding[key] -= 1

    def failed(self, items: Iterable[Item]) -> None:
        """These items failed: their partitions must not be recorded as finished."""
        for item in items:
            self.tainted.update(item.origins)

    def settle(self) -> list[str]:
        """Partitions that just finished (each reported once)."""
        finished = [k for k, n in self.outstanding.items() if n <= 0]
        for key in finished:
            del self.outstanding[key]
        newly = [k for k in finished if k not in self.tainted]
        self.finished.extend(newly)
        return newly

    @staticmethod
    def origins_of(items: Iterable[Item]) -> frozenset[str]:
        """The union of the items' origins."""
        merged: set[str] = set()
        for item in items:
            merged.update(item.origins)
        return frozenset(merged)
