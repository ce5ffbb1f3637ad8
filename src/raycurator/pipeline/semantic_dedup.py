"""`SemanticDeduplicationWorkflow`: embeddings on disk -> k-means -> pairwise similarity -> ids to remove.

Two pipelines (each run on the executor given, default `Pipeline.run`'s):

1. k-means (`KMeansStage`): ``<cache_path>/kmeans_results/centroid=<k>/*.parquet``;
2. pairwise (`PairwiseStage`, one cluster per task, memory bounded by the largest cluster):
   ``<cache_path>/pairwise_results/cluster_<k>.parquet``, then, when `eps` is given,
   `IdentifyDuplicatesStage`: ``<output_path>/duplicates/*.parquet`` (column `id`).

Then the run report: ``<output_path>/semantic_dedup_summary.json`` with the removals per
cluster at `eps` and the eps trade-off table (removals at each of `eps_to_report`), read back
from the pairwise scores, so another eps needs no rerun.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Literal

import numpy as np

from raycurator.backends.base import BaseExecutor
from raycurator.pipeline.pipeline import Pipeline
from raycurator.pipeline.workflow import WorkflowBase, WorkflowRunResult
from raycurator.stages.deduplication.semantic.identify_duplicates import IdentifyDuplicatesStage
from raycurator.stages.deduplication.semantic.kmeans import (
    KMeansEmbeddingOutputDtype,
    KMeansStage,
    validate_embedding_output_dtype,
)
from raycurator.stages.deduplication.semantic.pairwise import (
    DEFAULT_EPS_TO_REPORT,
    PairwiseComputeDtype,
    PairwiseStage,
    ranking_for,
    validate_pairwise_batch_size,
)
from raycurator.stages.deduplication.semantic.ranking import RankingStrategy
from raycurator.stages.deduplication.semantic.summary import (
    SUMMARY_FILE,
    SemanticDedupSummary,
    summarize_pairwise,
    write_summary,
)
from raycurator.stages.deduplication.workflow_utils import check_filetype, join_path
from raycurator.stages.resources import Resources
from raycurator.stages.text.io._fs import url_to_fs

logger = logging.getLogger(__name__)

#: Below this many clusters a large dataset's clusters may not fit in memory.
MIN_RECOMMENDED_N_CLUSTERS = 1000


def clear_directory(path: str, storage_options: dict[str, Any] | None = None) -> None:
    """Remove `path` (when it exists) and create it empty."""
    fs, local = url_to_fs(path, storage_options)
    if fs.exists(local):
        fs.rm(local, recursive=True)
    fs.makedirs(local, exist_ok=True)


class SemanticDeduplicationWorkflow(WorkflowBase):
    """Semantic deduplication of documents whose embeddings are already on disk.

    Args (NeMo Curator's): input_path (embedding files), output_path, n_clusters, cache_path
    (default output_path), id_field, embedding_field, metadata_fields, input_filetype
    ("parquet"/"jsonl"), input_file_extensions; k-means: max_iter, tol, random_state, init,
    n_init, oversampling_factor, max_samples_per_batch, fit_data_fraction; pairwise:
    distance_metric ("cosine"/"l2"), which_to_keep ("hard"/"easy"/"random"),
    ranking_strategy (overrides both), pairwise_batch_size; eps (None: scores only, no
    duplicate list); read_kwargs, cache_kwargs, write_kwargs, clear_output, verbose,
    pairwise_compute_dtype, kmeans_embedding_output_dtype.

    Beyond NeMo Curator: `eps_to_report` (the eps values of the trade-off table) and
    `pairwise_resources` (e.g. `Resources(gpus=1)` to compute on a GPU where there is one).
    """

    def __init__(
        self,
        input_path: str | list[str],
        output_path: str,
        n_clusters: int,
        cache_path: str | None = None,
        id_field: str = "id",
        embedding_field: str = "embeddings",
        metadata_fields: list[str] | None = None,
        input_filetype: Literal["parquet", "jsonl"] = "parquet",
        input_file_extensions: list[str] | None = None,
        max_iter: int = 300,
        tol: float = 1e-4,
        random_state: int = 42,
        init: Literal["k-means||", "random"] | np.ndarray = "k-means||",
        n_init: int | Literal["auto"] = 1,
        oversampling_factor: float = 2.0,
        max_samples_per_batch: int = 1 << 15,
        fit_data_fraction: float | None = None,
        distance_metric: Literal["cosine", "l2"] = "cosine",
        which_to_keep: Literal["hard", "easy", "random"] = "hard",
        ranking_strategy: RankingStrategy | None = None,
        pairwise_batch_size: int = 1024,
        eps: float | None = None,
        _duplicates_num_row_groups_hint: int | None = None,
        read_kwargs: dict[str, Any] | None = None,
        cache_kwargs: dict[str, Any] | None = None,
        write_kwargs: dict[str, Any] | None = None,
        clear_output: bool = True,
        verbose: bool = True,
        pairwise_compute_dtype: PairwiseComputeDtype = "float16",
        kmeans_embedding_output_dtype: KMeansEmbeddingOutputDtype = "float16",
        eps_to_report: list[float] | tuple[float, ...] = DEFAULT_EPS_TO_REPORT,
        pairwise_resources: Resources | None = None,
    ) -> None:
        self.input_path = input_path
        self.output_path = output_path
        self.cache_path = cache_path or output_path
        self.kmeans_output_path = join_path(self.cache_path, "kmeans_results")
        self.pairwise_output_path = join_path(self.cache_path, "pairwise_results")
        self.duplicates_output_path = join_path(self.output_path, "duplicates")
        self.summary_path = join_path(self.output_path, SUMMARY_FILE)
        self.n_clusters = n_clusters
        self.id_field = id_field
        self.embedding_field = embedding_field
        self.metadata_fields = list(metadata_fields or [])
        self.input_filetype = check_filetype(input_filetype, "input_filetype")
        self.input_file_extensions = input_file_extensions
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.init = init
        self.n_init = n_init
        self.oversampling_factor = oversampling_factor
        self.max_samples_per_batch = max_samples_per_batch
        self.fit_data_fraction = fit_data_fraction
        validate_embedding_output_dtype(kmeans_embedding_output_dtype)
        self.kmeans_embedding_output_dtype = kmeans_embedding_output_dtype
        if kmeans_embedding_output_dtype == "float16" and pairwise_compute_dtype == "float32":
            raise ValueError("float16 k-means output cannot be computed on in float32 (pairwise_compute_dtype)")
        self.pairwise_compute_dtype = pairwise_compute_dtype
        validate_pairwise_batch_size(pairwise_batch_size)
        self.pairwise_batch_size = pairwise_batch_size
        self.distance_metric = distance_metric
        self.which_to_keep = which_to_keep
        self.ranking_strategy = ranking_strategy
        if eps is not None and not 0.0 <= float(eps) < 1.0:
            raise ValueError(f"eps must lie in [0, 1), got {eps}")
        self.eps = eps
        self._duplicates_num_row_groups_hint = _duplicates_num_row_groups_hint
        self.read_kwargs = dict(read_kwargs or {})
        self.write_kwargs = dict(write_kwargs or {})
        self.cache_kwargs = dict(cache_kwargs) if cache_kwargs else dict(self.write_kwargs)
        self.clear_output = clear_output
        self.verbose = verbose
        self.eps_to_report = tuple(eps_to_report)
        self.pairwise_resources = pairwise_resources
        self._validate_config()

    def _validate_config(self) -> None:
        if not isinstance(self.n_clusters, int) or self.n_clusters < 1:
            raise ValueError(f"n_clusters must be a positive int, got {self.n_clusters!r}")
        if self.n_clusters < MIN_RECOMMENDED_N_CLUSTERS:
            logger.debug(
                "n_clusters=%d: every cluster must fit in one worker's memory; use more clusters for large data",
                self.n_clusters,
            )
        if self.fit_data_fraction is not None and not 0.0 < self.fit_data_fraction <= 1.0:
            raise ValueError(f"fit_data_fraction must lie in (0, 1], got {self.fit_data_fraction}")
        if self.ranking_strategy is None:
            ranking_for(self.which_to_keep, self.distance_metric, self.id_field, self.random_state)  # validates
        else:
            needed = set(self.ranking_strategy.metadata_cols) - set(self.metadata_fields) - {
                self.id_field, "cosine_dist_to_cent", "l2_dist_to_cent"
            }  # fmt: skip
            if self.ranking_strategy.strategy == "sort" and needed:
                raise ValueError(f"metadata_fields must include {sorted(needed)}, the ranking strategy's columns")

    # -- the stages --------------------------------------------------------------------------------
    def kmeans_stage(self) -> KMeansStage:
        return KMeansStage(
            n_clusters=self.n_clusters,
            id_field=self.id_field,
            embedding_field=self.embedding_field,
            input_path=self.input_path,
            output_path=self.kmeans_output_path,
            metadata_fields=self.metadata_fields,
            verbose=self.verbose,
            input_filetype=self.input_filetype,  # type: ignore[arg-type]
            input_file_extensions=self.input_file_extensions,
            read_kwargs=self.read_kwargs,
            write_kwargs=self.cache_kwargs,
            max_iter=self.max_iter,
            tol=self.tol,
            random_state=self.random_state,
            init=self.init,
            n_init=self.n_init,
            oversampling_factor=self.oversampling_factor,
            max_samples_per_batch=self.max_samples_per_batch,
            fit_data_fraction=self.fit_data_fraction,
            embedding_output_dtype=self.kmeans_embedding_output_dtype,
        )

    def pairwise_stages(self) -> list[Any]:
        pairwise = PairwiseStage(
            id_field=self.id_field,
            embedding_field=self.embedding_field,
            input_path=self.kmeans_output_path,
            output_path=self.pairwise_output_path,
            ranking_strategy=self.ranking_strategy,
            pairwise_batch_size=self.pairwise_batch_size,
            verbose=self.verbose,
            read_kwargs=self.cache_kwargs,
            write_kwargs=self.cache_kwargs,
            which_to_keep=self.which_to_keep,
            sim_metric=self.distance_metric,
            random_seed=self.random_state,
            compute_dtype=self.pairwise_compute_dtype,
            eps_to_report=list(self.eps_to_report),
        )
        if self.pairwise_resources is not None:
            pairwise = pairwise.with_({"PairwiseCosineSimilarityStage": {"resources": self.pairwise_resources}})
        stages: list[Any] = [pairwise]
        if self.eps is not None:
            stages.append(
                IdentifyDuplicatesStage(
                    output_path=self.duplicates_output_path,
                    eps=self.eps,
                    _num_row_groups_hint=self._duplicates_num_row_groups_hint,
                    verbose=self.verbose,
                    read_kwargs=self.cache_kwargs,
                    write_kwargs=self.write_kwargs,
                )
            )
        return stages

    def _setup_directories(self) -> None:
        if not self.clear_output:
            return
        options = self.write_kwargs.get("storage_options")
        for path in (self.kmeans_output_path, self.pairwise_output_path):
            clear_directory(path, self.cache_kwargs.get("storage_options"))
        if self.eps is not None:
            clear_directory(self.duplicates_output_path, options)
        fs, summary = url_to_fs(self.summary_path, options)
        if fs.exists(summary):
            fs.rm(summary)

    # -- running -----------------------------------------------------------------------------------
    def run(
        self, kmeans_executor: BaseExecutor | None = None, pairwise_executor: BaseExecutor | None = None
    ) -> WorkflowRunResult:
        """Run k-means, pairwise similarity (and duplicate identification at `eps`), then write the
        summary; returns the tasks of each pipeline and the timings, counts and summary."""
        result = WorkflowRunResult(workflow_name="semantic_deduplication")
        started = time.perf_counter()
        self._setup_directories()
        kmeans_tasks = Pipeline(
            name="semantic_dedup_kmeans", description="k-means clustering of the embeddings",
            stages=[self.kmeans_stage()],
        ).run(kmeans_executor)  # fmt: skip
        kmeans_time = time.perf_counter() - started
        result.add_pipeline_tasks("kmeans", kmeans_tasks)
        pairwise_started = time.perf_counter()
        pairwise_tasks = Pipeline(
            name="semantic_dedup_pairwise", description="pairwise similarity within clusters",
            stages=self.pairwise_stages(),
        ).run(pairwise_executor if pairwise_executor is not None else kmeans_executor)  # fmt: skip
        pairwise_time = time.perf_counter() - pairwise_started
        result.add_pipeline_tasks("pairwise", pairwise_tasks)
        summary = summarize_pairwise(
            self.pairwise_output_path, self.eps, self.eps_to_report, self.cache_kwargs.get("storage_options")
        )
        write_summary(summary, self.summary_path, self.write_kwargs.get("storage_options"))
        num_duplicates = (
            sum(int(t._metadata.get("num_removed", 0)) for t in pairwise_tasks) if self.eps is not None else 0
        )
        result.extend_metadata(
            {
                "kmeans_time": kmeans_time,
                "pairwise_time": pairwise_time,
                "total_time": time.perf_counter() - started,
                "num_duplicates": num_duplicates,
                "num_documents": summary.num_documents,
                "summary": summary,
                "summary_path": self.summary_path,
                "duplicates_path": self.duplicates_output_path if self.eps is not None else None,
            }
        )
        self._log_summary(summary, num_duplicates)
        return result

    def _log_summary(self, summary: SemanticDedupSummary, num_duplicates: int) -> None:
        if self.eps is not None:
            logger.info(
                "semantic dedup: %d of %d document(s) are duplicates at eps=%g (similarity >= %.4f)",
                num_duplicates, summary.num_documents, self.eps, 1.0 - self.eps,
            )  # fmt: skip
        if self.verbose:
            logger.info("semantic dedup: documents removed by eps\n%s", summary.format_table())
