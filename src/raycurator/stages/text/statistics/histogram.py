"""Histograms and category counts carried as additive custom metrics.

A stage's custom metrics are summed over its batches and workers, so a run-wide histogram is a
set of counters, one per bucket: `<measure>.hist.[lo,hi)` (`lo`/`hi` may be `-inf`/`inf`), and
a category count is `<field>.count.<value>`. `histograms_from_metrics` and
`categories_from_metrics` read them back from a stage's metrics (as in `report.json`).
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass

import numpy as np

_BUCKET = re.compile(r"^(?P<measure>.+)\.hist\.\[(?P<lo>[^,\]]+),(?P<hi>[^)\]]+)\)$")
_CATEGORY = re.compile(r"^(?P<field>.+?)\.count\.(?P<value>.*)$")

#: Default bucket edges for lengths (characters, words, tokens): 0, 1, 2, 5, 10, 20, 50, ... 10**7.
LENGTH_EDGES = (0.0, *(m * 10.0**e for e in range(7) for m in (1, 2, 5)), 1e7)
#: Default bucket edges for scores: 0.0, 0.1, ..., 1.0.
SCORE_EDGES = tuple(round(i / 10, 1) for i in range(11))


def _edge_text(value: float) -> str:
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:g}"


@dataclass(frozen=True)
class Bucket:
    """`count` values fell in `[lo, hi)`."""

    lo: float
    hi: float
    count: float


class HistogramSpec:
    """Fixed bucket edges for one measure; values below the first or at/above the last edge get open buckets."""

    def __init__(self, measure: str, edges: tuple[float, ...] | list[float]) -> None:
        values = [float(e) for e in edges]
        if len(values) < 2 or any(b <= a for a, b in itertools.pairwise(values)):
            raise ValueError(f"histogram '{measure}': edges must be at least two increasing numbers, got {edges!r}")
        self.measure = measure
        self.edges = np.asarray([-math.inf, *values, math.inf])
        self.names = [
            f"{measure}.hist.[{_edge_text(lo)},{_edge_text(hi)})"
            for lo, hi in zip(self.edges[:-1], self.edges[1:], strict=True)
        ]

    def counts(self, values: np.ndarray) -> dict[str, float]:
        """Metric name → number of `values` in that bucket (every bucket, zeros included; NaNs skipped)."""
        values = values[~np.isnan(values)]
        positions = np.searchsorted(self.edges, values, side="right") - 1
        tally = np.bincount(positions, minlength=len(self.names))[: len(self.names)]
        return {name: float(count) for name, count in zip(self.names, tally, strict=True)}


def histograms_from_metrics(metrics: dict[str, float]) -> dict[str, list[Bucket]]:
    """Measure → its buckets in order, from metric names written by `HistogramSpec`."""
    found: dict[str, list[Bucket]] = {}
    for name, value in metrics.items():
        match = _BUCKET.match(name)
        if match:
            bucket = Bucket(float(match["lo"]), float(match["hi"]), float(value))
            found.setdefault(match["measure"], []).append(bucket)
    return {measure: sorted(buckets, key=lambda b: b.lo) for measure, buckets in sorted(found.items())}


def categories_from_metrics(metrics: dict[str, float]) -> dict[str, list[tuple[str, float]]]:
    """Field → (value, count) pairs, most frequent first, from `<field>.count.<value>` metric names."""
    found: dict[str, list[tuple[str, float]]] = {}
    for name, value in metrics.items():
        match = _CATEGORY.match(name)
        if match and ".hist." not in name:
            found.setdefault(match["field"], []).append((match["value"], float(value)))
    return {field: sorted(pairs, key=lambda p: (-p[1], p[0])) for field, pairs in sorted(found.items())}
