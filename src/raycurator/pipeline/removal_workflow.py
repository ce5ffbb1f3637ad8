"""`TextDuplicatesRemovalWorkflow`: drop listed duplicate ids from a dataset and write the rest.

NeMo Curator 1.4 has it at `stages.text.deduplication.removal_workflow`; it builds and runs a
`Pipeline`, so here it lives at the pipeline layer and that path imports it lazily.

One pipeline: partition the input files -> read them (`input_fields` only, when given) ->
(with `id_generator_path`) integer ids from the id generator saved by the identification run
-> `TextDuplicatesRemovalStage` (drop the ids listed in `ids_to_remove_path`) -> write JSONL or
Parquet under `output_path`. `run()` returns a `WorkflowRunResult` with the writer's output
tasks under "removal" and the metadata `total_time` and `num_duplicates_removed`.
"""

from __future__ import annotations

import inspect
import logging
import time
from dataclasses import dataclass
from typing import Any, Literal

from raycurator.backends.base import BaseExecutor
from raycurator.errors import PipelineConfigError
from raycurator.pipeline.pipeline import Pipeline
from raycurator.pipeline.workflow import WorkflowBase, WorkflowRunResult
from raycurator.stages.base import ProcessingStage
from raycurator.stages.deduplication.assign_ids import AddDedupIdsFromGenerator
from raycurator.stages.deduplication.common import CURATOR_DEDUP_ID_STR
from raycurator.stages.deduplication.id_generator import create_id_generator_actor, kill_id_generator_actor
from raycurator.stages.deduplication.removal import TextDuplicatesRemovalStage
from raycurator.stages.file_partitioning import FilePartitioningStage
from raycurator.stages.text.io.reader.jsonl import JSONL_EXTENSIONS, JsonlReaderStage
from raycurator.stages.text.io.reader.parquet import PARQUET_EXTENSIONS, ParquetReaderStage
from raycurator.stages.text.io.writer import JsonlWriter, ParquetWriter
from raycurator.tasks import FileGroupTask, Task
from raycurator.tasks.utils import TaskPerfUtils

logger = logging.getLogger(__name__)

__all__ = ["TextDuplicatesRemovalWorkflow"]

_FILETYPES = ("parquet", "jsonl")


@dataclass
class TextDuplicatesRemovalWorkflow(WorkflowBase):
    """Remove the documents whose ids are listed in `ids_to_remove_path` (see the module docstring)."""

    input_path: str | None
    ids_to_remove_path: str
    output_path: str

    input_filetype: Literal["parquet", "jsonl"] = "parquet"
    input_fields: list[str] | None = None
    id_field: str | None = CURATOR_DEDUP_ID_STR
    input_files_per_partition: int | None = None
    input_blocksize: str | None = None
    input_file_extensions: list[str] | None = None
    input_task_limit: int | None = None
    input_kwargs: dict[str, Any] | None = None

    duplicate_id_field: str = "id"
    duplicate_id_read_kwargs: dict[str, Any] | None = None

    id_generator_path: str | None = None
    id_generator_storage_options: dict[str, Any] | None = None

    output_file_extension: str | None = None
    output_filetype: Literal["parquet", "jsonl"] = "parquet"
    output_kwargs: dict[str, Any] | None = None
    output_fields: list[str] | None = None
    output_mode: Literal["ignore", "overwrite", "append", "error"] | None = None
    drop_id_field: bool = False

    def __post_init__(self) -> None:
        for name in ("input_filetype", "output_filetype"):
            if getattr(self, name) not in _FILETYPES:
                raise ValueError(f"TextDuplicatesRemovalWorkflow: {name} must be one of {_FILETYPES}")
        if self.id_field is None:
            raise ValueError("TextDuplicatesRemovalWorkflow: id_field must name the column of document ids")
        if self.drop_id_field and self.output_fields and self.id_field in self.output_fields:
            raise ValueError(
                f"TextDuplicatesRemovalWorkflow: cannot drop id_field {self.id_field!r} listed in output_fields"
            )
        if self.duplicate_id_read_kwargs:
            raise ValueError(
                "TextDuplicatesRemovalWorkflow: duplicate_id_read_kwargs is not supported here "
                f"(got {sorted(self.duplicate_id_read_kwargs)}); the id files are read with fsspec defaults"
            )
        if self.id_generator_path is None and self.id_field == CURATOR_DEDUP_ID_STR:
            logger.warning("removing by %s without an id generator: the input must already hold it", self.id_field)

    def _generate_stages(self, initial_tasks: list[FileGroupTask] | None = None) -> list[ProcessingStage]:
        """The pipeline's stages (no partitioning stage when `initial_tasks` are given)."""
        input_kwargs = dict(self.input_kwargs or {})
        storage_options = input_kwargs.pop("storage_options", None)
        stages: list[ProcessingStage] = []
        if initial_tasks is None:
            if self.input_path is None:
                raise ValueError("TextDuplicatesRemovalWorkflow: input_path is needed when no initial_tasks are given")
            default_extensions = JSONL_EXTENSIONS if self.input_filetype == "jsonl" else PARQUET_EXTENSIONS
            stages.append(
                FilePartitioningStage(
                    file_paths=self.input_path,
                    files_per_partition=self.input_files_per_partition,
                    blocksize=self.input_blocksize,
                    file_extensions=self.input_file_extensions or list(default_extensions),
                    storage_options=storage_options,
                    limit=self.input_task_limit,
                )
            )
        reader_cls = JsonlReaderStage if self.input_filetype == "jsonl" else ParquetReaderStage
        stages.append(
            reader_cls(fields=self.input_fields, storage_options=storage_options, read_kwargs=input_kwargs or None)
        )
        if self.id_generator_path is not None:
            stages.append(AddDedupIdsFromGenerator())
        stages.append(
            TextDuplicatesRemovalStage(
                ids_to_remove_path=self.ids_to_remove_path,
                id_field=self.id_field,
                duplicate_id_field=self.duplicate_id_field,
                drop_id_field=self.drop_id_field,
            )
        )
        stages.append(self._writer())
        return stages

    def _writer(self) -> ProcessingStage:
        writer_cls = ParquetWriter if self.output_filetype == "parquet" else JsonlWriter
        options: dict[str, Any] = {"write_kwargs": dict(self.output_kwargs or {}) or None, "fields": self.output_fields}
        if self.output_file_extension:
            options["file_extension"] = self.output_file_extension
        if self.output_mode is not None:
            if "mode" not in inspect.signature(writer_cls.__init__).parameters:
                raise PipelineConfigError(
                    f"TextDuplicatesRemovalWorkflow: output_mode={self.output_mode!r} needs a writer with a "
                    f"'mode' parameter; {writer_cls.__name__} here has none"
                )
            options["mode"] = self.output_mode
        return writer_cls(self.output_path, **options)

    def run(
        self, executor: BaseExecutor | None = None, initial_tasks: list[FileGroupTask] | None = None
    ) -> WorkflowRunResult:
        """Run the removal pipeline (default executor: `Pipeline.run`'s)."""
        if initial_tasks is not None and self.input_task_limit is not None:
            initial_tasks = initial_tasks[: self.input_task_limit]
        pipeline = Pipeline(
            name="text_duplicates_removal_workflow",
            description="Remove listed duplicate documents",
            stages=self._generate_stages(initial_tasks),
        )
        result = WorkflowRunResult(workflow_name="text_duplicates_removal")
        if self.id_generator_path is not None:
            create_id_generator_actor(self.id_generator_path, storage_options=self.id_generator_storage_options)
        start = time.perf_counter()
        try:
            outputs = pipeline.run(executor, initial_tasks=initial_tasks)
        finally:
            if self.id_generator_path is not None:
                kill_id_generator_actor()
        result.add_pipeline_tasks("removal", outputs)
        result.add_metadata("total_time", time.perf_counter() - start)
        result.add_metadata("num_duplicates_removed", _removed(outputs))
        return result


def _removed(tasks: list[Task] | None) -> int:
    metrics = TaskPerfUtils.collect_stage_metrics(tasks or [])
    stage = metrics.get(TextDuplicatesRemovalStage._name, {})
    values = stage.get("custom.num_removed")
    return int(values.sum()) if values is not None else 0
