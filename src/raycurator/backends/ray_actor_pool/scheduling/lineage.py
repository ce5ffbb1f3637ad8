"""Lineage of items back to their source partitions, for checkpoints.

Every item carries the keys of the source partitions it descends from. The tracker counts the
live items of each partition; when that count falls to zero and nothing of the partition failed,
every output of the partition has passed the last stage: the partition is finished.
"""

from __future__ import annotations

import dataclasses
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
        self.sources: dict[str, list[Item]] = {}  # each partition's source items, to run it again
        self.keep_finished_sources = False  # keep them after the partition finished (results are kept)
        self.unsecured: list[Item] = []  # sources made on a worker node (by a source stage)
        self._emptied: set[str] = set()  # partitions whose count reached zero since the last settle

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
            source = dataclasses.replace(item)
            self.sources.setdefault(key, []).append(source)
            if source.node_id:
                self.unsecured.append(source)
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
                left = self.outstanding[key] - 1
                self.outstanding[key] = left
                if left <= 0:
                    self._emptied.add(key)

    def failed(self, items: Iterable[Item]) -> None:
        """These items failed: their partitions must not be recorded as finished."""
        for item in items:
            self.tainted.update(item.origins)

    def restart(self, keys: Iterable[str]) -> list[Item]:
        """These partitions run again from their sources: fresh copies of their source items."""
        fresh = []
        for key in keys:
            items = [dataclasses.replace(item) for item in self.sources[key]]
            self.outstanding[key] = len(items)
            fresh.extend(items)
        return fresh

    def settle(self) -> list[str]:
        """Partitions that just finished (each reported once)."""
        finished = sorted(k for k in self._emptied if self.outstanding.get(k, 1) <= 0)
        self._emptied.clear()
        for key in finished:
            del self.outstanding[key]
            if not self.keep_finished_sources:
                self.sources.pop(key, None)
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
