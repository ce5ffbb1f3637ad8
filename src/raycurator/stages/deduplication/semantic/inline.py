"""`SemanticDuplicateFilter`: semantic dedup inside one pipeline (documents in, documents out).

Put it after `EmbeddingCreatorStage`: it is a barrier that gathers every document batch
(with its `id_field` and `embedding_field`), clusters the embeddings (faiss k-means, like
`KMeansStage`), finds in each cluster the documents at least ``1 - eps`` similar to a
higher-ranked one (like `PairwiseStage` and `IdentifyDuplicatesStage`) and drops them, then
passes the batches on (embedding column dropped unless `keep_embeddings`). All documents sit
in one worker: right for a demo and data that fits a node's memory; beyond that use
`TextSemanticDeduplicationWorkflow`, which streams over clusters from disk.

Metrics: `num_removed`, `num_kept`, `n_clusters`, `largest_cluster`, the removals at each eps
of `eps_to_report` (`removed_at_eps_<eps>`, the eps trade-off) and, per cluster,
`cluster_<k>_size` / `cluster_<k>_removed`.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from raycurator.stages.base import ProcessingStage, RayStageSpecKeys
from raycurator.stages.deduplication.common import require_columns, table_of, with_batch
from raycurator.stages.deduplication.semantic.kmeans import (
    COSINE_DIST_TO_CENT_COL,
    FIT_POINTS_PER_CLUSTER,
    L2_DIST_TO_CENT_COL,
    assign_clusters,
    fit_kmeans,
)
from raycurator.stages.deduplication.semantic.pairwise import (
    DEFAULT_EPS_TO_REPORT,
    eps_metric_name,
    pairwise_cosine_similarity_batched,
    ranking_for,
    removals_at,
)
from raycurator.stages.deduplication.semantic.utils import embeddings_matrix, normalize_rows
from raycurator.stages.resources import Resources
from raycurator.tasks import DocumentBatch

logger = logging.getLogger(__name__)


class SemanticDuplicateFilter(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Drops semantic duplicates from the document stream (a barrier; see the module docstring)."""

    def __init__(
        self,
        n_clusters: int = 10,
        eps: float = 0.01,
        id_field: str = "id",
        embedding_field: str = "embeddings",
        which_to_keep: Literal["hard", "easy", "random"] = "hard",
        distance_metric: Literal["cosine", "l2"] = "cosine",
        random_state: int = 42,
        max_iter: int = 100,
        tol: float = 1e-4,
        pairwise_batch_size: int = 1024,
        keep_embeddings: bool = False,
        eps_to_report: list[float] | None = None,
    ) -> None:
        if not 0.0 <= eps < 1.0:
            raise ValueError(f"SemanticDuplicateFilter: eps must lie in [0, 1), got {eps}")
        if n_clusters < 1:
            raise ValueError(f"SemanticDuplicateFilter: n_clusters must be positive, got {n_clusters}")
        self.ranking = ranking_for(which_to_keep, distance_metric, id_field, random_state)
        self.n_clusters = n_clusters
        self.eps = eps
        self.id_field = id_field
        self.embedding_field = embedding_field
        self.which_to_keep = which_to_keep
        self.distance_metric = distance_metric
        self.random_state = random_state
        self.max_iter = max_iter
        self.tol = tol
        self.pairwise_batch_size = pairwise_batch_size
        self.keep_embeddings = keep_embeddings
        self.eps_to_report = sorted({*(eps_to_report or DEFAULT_EPS_TO_REPORT), float(eps)})
        self._name = "SemanticDuplicateFilter"
        self._resources = Resources(cpus=1.0)

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [self.id_field, self.embedding_field]

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [self.id_field] + ([self.embedding_field] if self.keep_embeddings else [])

    def ray_stage_spec(self) -> dict[str, Any]:
        return {RayStageSpecKeys.IS_BARRIER: True, RayStageSpecKeys.IS_ACTOR_STAGE: True}

    def setup(self, worker_metadata: Any = None) -> None:
        import faiss

        faiss.omp_set_num_threads(max(1, round(self.resources.cpus)))

    def process(self, task: DocumentBatch) -> list[DocumentBatch]:
        return self.process_batch([task])

    def _duplicates(self, ids: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
        """A boolean mask of the rows to drop."""
        import pandas as pd

        n_clusters = min(self.n_clusters, len(ids))
        rng = np.random.default_rng(self.random_state)
        cap = n_clusters * FIT_POINTS_PER_CLUSTER
        sample = embeddings if len(ids) <= cap else embeddings[np.sort(rng.choice(len(ids), cap, replace=False))]
        centroids, _ = fit_kmeans(sample, n_clusters, self.max_iter, self.tol, self.random_state, 1)
        labels, l2, cosine = assign_clusters(embeddings, centroids)
        drop = np.zeros(len(ids), dtype=bool)
        totals = dict.fromkeys(self.eps_to_report, 0)
        metrics: dict[str, float] = {}
        for cluster in np.unique(labels):
            members = np.flatnonzero(labels == cluster)
            frame = pd.DataFrame(
                {self.id_field: ids[members], COSINE_DIST_TO_CENT_COL: cosine[members],
                 L2_DIST_TO_CENT_COL: l2[members], "_row": members}
            )  # fmt: skip
            ranked = self.ranking.rank_cluster(frame)["_row"].to_numpy()
            scores, _ = pairwise_cosine_similarity_batched(embeddings[ranked], self.pairwise_batch_size)
            removed = ranked[scores.astype(np.float64) >= 1.0 - self.eps]
            drop[removed] = True
            for eps, count in removals_at(scores, self.eps_to_report).items():
                totals[eps] += count
            metrics[f"cluster_{int(cluster)}_size"] = len(members)
            metrics[f"cluster_{int(cluster)}_removed"] = len(removed)
        metrics.update({eps_metric_name(e): c for e, c in totals.items()})
        metrics["n_clusters"] = n_clusters
        metrics["largest_cluster"] = int(np.bincount(labels).max())
        self._log_metrics(metrics)
        table = "\n".join(f"  eps {e:<6g} (similarity >= {1 - e:.3f}): {c} removed" for e, c in totals.items())
        logger.info("stage '%s': documents removed by eps\n%s", self.name, table)
        return drop

    def process_batch(self, tasks: list[DocumentBatch]) -> list[DocumentBatch]:
        tables = []
        for task in tasks:
            self.validate_input(task)
            table = table_of(task, self.name)
            require_columns(table, [self.id_field, self.embedding_field], self.name, task)
            tables.append(table)
        matrices: list[np.ndarray] = []
        dim: int | None = None
        for table, task in zip(tables, tasks, strict=True):
            where = f"{task.task_id}" + (f" ({', '.join(task.source_files[:3])})" if task.source_files else "")
            matrices.append(embeddings_matrix(table, self.embedding_field, self.name, where, dim))
            dim = matrices[-1].shape[1] if len(matrices[-1]) else dim
        sizes = [t.num_rows for t in tables]
        if not sum(sizes):
            return []
        ids = np.concatenate([np.asarray(t.column(self.id_field).to_pylist(), dtype=object) for t in tables])
        drop = self._duplicates(ids, normalize_rows(np.concatenate([m for m in matrices if len(m)])))
        outputs: list[DocumentBatch] = []
        offset = 0
        for task, table, size in zip(tasks, tables, sizes, strict=True):
            keep = ~drop[offset : offset + size]
            offset += size
            kept = table.filter(pa.array(keep)) if size else table
            if not self.keep_embeddings:
                kept = kept.drop_columns([self.embedding_field])
            if kept.num_rows:
                outputs.append(with_batch(task, kept))
        removed = int(drop.sum())
        self._log_metrics({"num_removed": removed, "num_kept": len(drop) - removed})
        return outputs


__all__ = ["SemanticDuplicateFilter"]
