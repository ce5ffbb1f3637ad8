"""The run report of semantic dedup: removals per cluster and the eps trade-off, from one run.

Built from the pairwise output (``cluster_<k>.parquet``: one row per document with its best
similarity to a higher-ranked document in its cluster), one cluster at a time, so that
users can pick `eps` without rerunning: removals at eps are the rows whose score is at
least ``1 - eps``.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from raycurator.stages.deduplication.semantic.pairwise import DEFAULT_EPS_TO_REPORT, removals_at
from raycurator.stages.text.io._fs import url_to_fs
from raycurator.stages.text.io.writer._files import atomic_write

SUMMARY_FILE = "semantic_dedup_summary.json"
_CLUSTER_FILE = re.compile(r"cluster_(\d+)\.parquet$")


@dataclass
class ClusterRemovals:
    """One cluster: its size and the documents removed at the run's eps."""

    centroid_id: int
    size: int
    removed: int


@dataclass
class SemanticDedupSummary:
    """Per-cluster removals at `eps` and the removals at every eps of `eps_table`."""

    eps: float | None
    num_documents: int = 0
    num_removed: int = 0
    clusters: list[ClusterRemovals] = field(default_factory=list)
    eps_table: list[dict[str, float | int]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def format_table(self) -> str:
        """The eps trade-off as a small text table."""
        lines = ["eps      similarity>=  removed  kept     share removed"]
        for row in self.eps_table:
            lines.append(
                f"{row['eps']:<8g} {row['min_similarity']:<12.4f} {row['removed']:<8d} {row['kept']:<8d} "
                f"{row['fraction_removed']:.2%}"
            )
        return "\n".join(lines)


def summarize_pairwise(
    pairwise_path: str,
    eps: float | None,
    eps_values: list[float] | tuple[float, ...] = DEFAULT_EPS_TO_REPORT,
    storage_options: dict[str, Any] | None = None,
) -> SemanticDedupSummary:
    """The summary of the pairwise files under `pairwise_path` (read one cluster at a time)."""
    values = sorted({float(e) for e in eps_values} | ({float(eps)} if eps is not None else set()))
    fs, root = url_to_fs(pairwise_path, storage_options)
    files = sorted(f for f in fs.find(root) if _CLUSTER_FILE.search(f)) if fs.exists(root) else []
    summary = SemanticDedupSummary(eps=eps)
    totals = dict.fromkeys(values, 0)
    for path in files:
        with fs.open(path, "rb") as handle:
            scores = pq.read_table(handle, columns=["cosine_sim_score"]).column(0).to_numpy()
        scores = np.asarray(scores, dtype=np.float32)
        counts = removals_at(scores, values)
        for key, count in counts.items():
            totals[key] += count
        centroid = int(_CLUSTER_FILE.search(path).group(1))
        removed = counts[float(eps)] if eps is not None else 0
        summary.clusters.append(ClusterRemovals(centroid, len(scores), removed))
        summary.num_documents += len(scores)
    summary.clusters.sort(key=lambda c: c.centroid_id)
    summary.num_removed = totals[float(eps)] if eps is not None else 0
    for value in values:
        removed = totals[value]
        summary.eps_table.append(
            {
                "eps": value,
                "min_similarity": 1.0 - value,
                "removed": removed,
                "kept": summary.num_documents - removed,
                "fraction_removed": removed / summary.num_documents if summary.num_documents else 0.0,
            }
        )
    return summary


def write_summary(summary: SemanticDedupSummary, path: str, storage_options: dict[str, Any] | None = None) -> str:
    """Write `summary` as JSON to `path` (atomically); the path written."""
    fs, local = url_to_fs(path, storage_options)
    atomic_write(fs, local, json.dumps(summary.to_dict(), indent=2).encode("utf-8"))
    return path
