"""Printing the histograms and category counts that statistics stages logged as custom metrics."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Console
from rich.text import Text

from raycurator.stages.text.statistics.histogram import Bucket, categories_from_metrics, histograms_from_metrics

BAR_WIDTH = 40
TOP_CATEGORIES = 10


def _edge(value: float) -> str:
    return "-inf" if value == -math.inf else "inf" if value == math.inf else f"{value:,g}"


def histogram_lines(measure: str, buckets: list[Bucket]) -> list[str]:
    """One line per bucket, from the first to the last non-empty one: range, count, share and a bar."""
    filled = [i for i, b in enumerate(buckets) if b.count]
    if not filled:
        return []
    total = sum(b.count for b in buckets)
    peak = max(b.count for b in buckets)
    lines = [f"{measure} ({total:,.0f} values)"]
    for bucket in buckets[filled[0] : filled[-1] + 1]:
        bar = "█" * round(BAR_WIDTH * bucket.count / peak) if peak else ""
        span = f"[{_edge(bucket.lo)}, {_edge(bucket.hi)})"
        lines.append(f"  {span:>22} {bucket.count:>10,.0f} {100 * bucket.count / total:5.1f}% {bar}")
    return lines


def statistics_lines(report: dict[str, Any]) -> list[str]:
    """Histograms and top categories of every stage whose custom metrics hold some."""
    lines: list[str] = []
    for stage in report.get("stages") or []:
        metrics = stage.get("custom_metrics") or {}
        histograms = histograms_from_metrics(metrics)
        categories = categories_from_metrics(metrics)
        if not histograms and not categories:
            continue
        lines.append(f"statistics of stage {stage.get('stage_name')}:")
        for measure, buckets in histograms.items():
            lines.extend(histogram_lines(measure, buckets))
        for field, pairs in categories.items():
            total = sum(count for _, count in pairs)
            shown = pairs[:TOP_CATEGORIES]
            top = ", ".join(f"{value} {count:,.0f} ({100 * count / total:.1f}%)" for value, count in shown)
            more = f", {len(pairs) - TOP_CATEGORIES} more" if len(pairs) > TOP_CATEGORIES else ""
            lines.append(f"{field}: {top}{more}")
    return lines


def print_statistics(report: dict[str, Any], console: Console) -> None:
    """Print `statistics_lines` (nothing when no stage logged statistics)."""
    for line in statistics_lines(report):
        console.print(Text(line), highlight=False, soft_wrap=True)
