"""`PairwiseStage`: within each cluster, every document's most similar higher-ranked document.

`PairwiseStage` (composite) = `ClusterWiseFilePartitioningStage` (one task per cluster) ->
`PairwiseCosineSimilarityStage`, which loads one cluster (memory bounded by the largest
cluster), ranks its documents (`RankingStrategy`), and for each document finds the most
similar document ranked before it, computing the similarity matrix `pairwise_batch_size`
columns at a time (an N x batch workspace, never N x N). Output per cluster:
``<output_path>/cluster_<k>.parquet`` with `id`, `max_id` (the earlier document it is
closest to) and `cosine_sim_score`; a document is a duplicate at `eps` when its score is at
least ``1 - eps``. Runs on CUDA when given a GPU (`Resources(gpus=...)`), on the CPU otherwise.

Per cluster it records the metrics `cluster_size`, `centroid_id` and, for every eps in
`eps_to_report`, `removed_at_eps_<eps>`: the eps trade-off, per cluster, from one run.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from raycurator.stages.base import CompositeStage, ProcessingStage
from raycurator.stages.deduplication.semantic.kmeans import COSINE_DIST_TO_CENT_COL, L2_DIST_TO_CENT_COL
from raycurator.stages.deduplication.semantic.pairwise_io import ClusterWiseFilePartitioningStage
from raycurator.stages.deduplication.semantic.ranking import RankingStrategy
from raycurator.stages.deduplication.semantic.utils import (
    embeddings_matrix,
    read_table,
    require_file_columns,
    write_parquet_atomic,
)
from raycurator.stages.deduplication.workflow_utils import join_path
from raycurator.stages.resources import Resources
from raycurator.stages.text.models.device import DeviceKind, choose_device, limit_cpu_threads
from raycurator.tasks import FileGroupTask, Task

logger = logging.getLogger(__name__)

PairwiseComputeDtype = Literal["auto", "float16", "float32"]
#: The eps values whose removals are recorded per cluster unless told otherwise.
DEFAULT_EPS_TO_REPORT: tuple[float, ...] = (0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2)
PAIRWISE_COLUMNS = ("id", "max_id", "cosine_sim_score")


def eps_metric_name(eps: float) -> str:
    """The metric name of the removals at `eps` (``removed_at_eps_0.01``)."""
    return f"removed_at_eps_{eps:g}"


def validate_pairwise_batch_size(batch_size: object) -> None:
    """A `ValueError` unless `batch_size` is a positive int."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"pairwise_batch_size must be a positive integer, got {batch_size!r}")


def pairwise_cosine_similarity_batched(
    embeddings: Any, batch_size: int = 1024, device: str = "cpu", dtype: str = "float32"
) -> tuple[np.ndarray, np.ndarray]:
    """(best similarity, index of that row) of each row of unit-length `embeddings` (ranked order)
    against the rows ranked before it; the first row gets (0.0, 0).

    Computes the transposed strict lower triangle one block of `batch_size` query rows at a
    time: for rows [s, e), candidates are rows [0, e), and a candidate at or after the query is
    masked out. Ties go to the earliest candidate.
    """
    import torch

    validate_pairwise_batch_size(batch_size)
    reps = torch.as_tensor(np.ascontiguousarray(embeddings), device=device)
    reps = reps.to(torch.float16 if dtype == "float16" else torch.float32)
    n = reps.shape[0]
    best = torch.zeros(n, dtype=torch.float32, device=device)
    best_index = torch.zeros(n, dtype=torch.int64, device=device)
    if n == 0:
        return best.cpu().numpy(), best_index.cpu().numpy()
    batch_size = min(batch_size, n)
    blocked = torch.ones((batch_size, batch_size), dtype=torch.bool, device=device).tril_()
    for start in range(0, n, batch_size):
        end = min(start + batch_size, n)
        width = end - start
        sims = torch.mm(reps[:end], reps[start:end].T).float()  # candidates x queries
        sims[start:end].masked_fill_(blocked[:width, :width], -torch.inf)
        values, indices = torch.max(sims, dim=0)
        if start == 0:
            values[0] = 0.0
            indices[0] = 0
        best[start:end] = values
        best_index[start:end] = indices
    return best.cpu().numpy(), best_index.cpu().numpy()


def removals_at(scores: np.ndarray, eps_values: list[float] | tuple[float, ...]) -> dict[float, int]:
    """How many documents have a score of at least ``1 - eps``, for each eps."""
    wide = np.asarray(scores, dtype=np.float64)  # compare as doubles, like the Parquet filter
    return {eps: int(np.count_nonzero(wide >= 1.0 - eps)) for eps in eps_values}


class PairwiseCosineSimilarityStage(ProcessingStage[FileGroupTask, FileGroupTask]):
    """One cluster per task: rank, compute each document's best earlier match, write the scores."""

    def __init__(
        self,
        id_field: str,
        embedding_field: str,
        output_path: str,
        ranking_strategy: RankingStrategy,
        pairwise_batch_size: int = 1024,
        verbose: bool = False,
        read_kwargs: dict[str, Any] | None = None,
        write_kwargs: dict[str, Any] | None = None,
        compute_dtype: PairwiseComputeDtype = "float32",
        eps_to_report: list[float] | tuple[float, ...] = DEFAULT_EPS_TO_REPORT,
    ) -> None:
        validate_pairwise_batch_size(pairwise_batch_size)
        if compute_dtype not in ("auto", "float16", "float32"):
            raise ValueError(f"compute_dtype must be 'auto', 'float16' or 'float32', got {compute_dtype!r}")
        for key in ("columns",):
            if key in (read_kwargs or {}):
                raise ValueError(f"read_kwargs must not hold '{key}'")
        self.id_field = id_field
        self.embedding_field = embedding_field
        self.output_path = output_path
        self.ranking_strategy = ranking_strategy
        self.pairwise_batch_size = pairwise_batch_size
        self.verbose = verbose
        self.read_kwargs = dict(read_kwargs or {})
        self.write_kwargs = dict(write_kwargs or {})
        self.compute_dtype = compute_dtype
        self.eps_to_report = tuple(sorted(float(e) for e in eps_to_report))
        self._name = "PairwiseCosineSimilarityStage"
        self._resources = Resources(cpus=1.0)
        self._device = DeviceKind.CPU.value

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], []

    def setup(self, worker_metadata: Any = None) -> None:
        choice = choose_device(self.resources)
        self._device = choice.torch_device
        if choice.kind is DeviceKind.CPU:
            limit_cpu_threads(self.resources)
        logger.info("stage '%s': %s", self.name, choice.reason)

    def _compute_dtype(self) -> str:
        # float16 products are slow on CPUs and gain nothing there: float32 unless on CUDA
        if self._device == DeviceKind.CUDA.value and self.compute_dtype == "float16":
            return "float16"
        return "float32"

    def process(self, task: FileGroupTask) -> FileGroupTask:
        centroid = task._metadata.get("centroid_id")
        if centroid is None:
            raise ValueError(f"stage '{self.name}': task '{task.task_id}' has no centroid_id in its metadata")
        started = time.perf_counter()
        extra = self.ranking_strategy.metadata_cols if self.ranking_strategy.strategy == "sort" else []
        meta_cols = list(dict.fromkeys([self.id_field, *extra]))
        frames: list[pd.DataFrame] = []
        matrices: list[np.ndarray] = []
        dim: int | None = None
        for path in task.data:
            table = read_table(path, "parquet", [*meta_cols, self.embedding_field], self.read_kwargs)
            require_file_columns(table, [*meta_cols, self.embedding_field], self.name, path)
            matrix = embeddings_matrix(table, self.embedding_field, self.name, path, dim)
            dim = matrix.shape[1] if len(matrix) else dim
            frames.append(table.select(meta_cols).to_pandas())
            matrices.append(matrix)
        output = join_path(self.output_path, f"cluster_{centroid}.parquet")
        meta = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=meta_cols)
        n = len(meta)
        if n == 0:
            logger.warning("stage '%s': cluster %s is empty", self.name, centroid)
            return task.derive([])
        meta["_original_idx"] = np.arange(n)
        ranked = self.ranking_strategy.rank_cluster(meta)
        order = ranked["_original_idx"].to_numpy()
        embeddings = np.concatenate(matrices)[order]
        del matrices
        compute_start = time.perf_counter()
        scores, indices = pairwise_cosine_similarity_batched(
            embeddings, self.pairwise_batch_size, self._device, self._compute_dtype()
        )
        compute_time = time.perf_counter() - compute_start
        ids = ranked[self.id_field].to_numpy()
        result = pa.table(
            {
                "id": pa.array(ids),
                "max_id": pa.array(ids[indices]),
                "cosine_sim_score": pa.array(scores.astype(np.float32)),
            }
        )
        write_parquet_atomic(result, output, self.write_kwargs)
        metrics = {"cluster_size": n, "centroid_id": int(centroid), "pairwise_compute_time": compute_time}
        metrics.update({eps_metric_name(e): c for e, c in removals_at(scores, self.eps_to_report).items()})
        self._log_metrics(metrics)
        if self.verbose:
            logger.info(
                "stage '%s': cluster %s, %d document(s) in %.2fs", self.name, centroid, n, time.perf_counter() - started
            )
        return task.derive([output], _metadata={**task._metadata, "centroid_id": centroid, "cluster_size": n})


@dataclass
class PairwiseStage(CompositeStage[Task, FileGroupTask]):
    """Pairwise similarity within each cluster written by `KMeansStage` under `input_path`.

    `which_to_keep` ranks each cluster when no `ranking_strategy` is given: "hard" keeps the
    documents farthest from the centroid (outliers), "easy" the closest, "random" a seeded
    random choice; `sim_metric` picks the distance ("cosine" or "l2") used for it, ids break
    ties. `eps_to_report` lists the eps values whose removals are recorded per cluster.
    """

    id_field: str
    embedding_field: str
    input_path: str
    output_path: str
    ranking_strategy: RankingStrategy | None = None
    pairwise_batch_size: int = 1024
    verbose: bool = False
    read_kwargs: dict[str, Any] | None = None
    write_kwargs: dict[str, Any] | None = None
    which_to_keep: Literal["hard", "easy", "random"] = "hard"
    sim_metric: Literal["cosine", "l2"] = "cosine"
    random_seed: int = 42
    compute_dtype: PairwiseComputeDtype = "float32"
    eps_to_report: list[float] = field(default_factory=lambda: list(DEFAULT_EPS_TO_REPORT))

    def __post_init__(self) -> None:
        validate_pairwise_batch_size(self.pairwise_batch_size)
        if self.ranking_strategy is None:
            self.ranking_strategy = ranking_for(self.which_to_keep, self.sim_metric, self.id_field, self.random_seed)

    def decompose(self) -> list[ProcessingStage]:
        assert self.ranking_strategy is not None
        return [
            ClusterWiseFilePartitioningStage(
                self.input_path, storage_options=(self.read_kwargs or {}).get("storage_options")
            ),
            PairwiseCosineSimilarityStage(
                id_field=self.id_field,
                embedding_field=self.embedding_field,
                output_path=self.output_path,
                ranking_strategy=self.ranking_strategy,
                pairwise_batch_size=self.pairwise_batch_size,
                verbose=self.verbose,
                read_kwargs=self.read_kwargs,
                write_kwargs=self.write_kwargs,
                compute_dtype=self.compute_dtype,
                eps_to_report=self.eps_to_report,
            ),
        ]


def ranking_for(which_to_keep: str, sim_metric: str, id_field: str, random_seed: int = 42) -> RankingStrategy:
    """The `RankingStrategy` meant by `which_to_keep` and `sim_metric`."""
    if which_to_keep == "random":
        return RankingStrategy.random(random_seed)
    if which_to_keep not in ("hard", "easy"):
        raise ValueError(f"which_to_keep must be 'hard', 'easy' or 'random', got {which_to_keep!r}")
    if sim_metric not in ("cosine", "l2"):
        raise ValueError(f"sim_metric must be 'cosine' or 'l2', got {sim_metric!r}")
    column = COSINE_DIST_TO_CENT_COL if sim_metric == "cosine" else L2_DIST_TO_CENT_COL
    ascending = which_to_keep == "easy"  # hard: farthest from the centroid first
    return RankingStrategy(metadata_cols=[column, id_field], ascending=[ascending, ascending])
