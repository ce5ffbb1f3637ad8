"""Shared plumbing of the deduplication workflows: readers, writers, running stage lists."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import fsspec
import pyarrow.parquet as pq

from raycurator.stages.base import CompositeStage, ProcessingStage
from raycurator.stages.deduplication.common import CURATOR_DEDUP_ID_STR
from raycurator.stages.deduplication.removal import TextDuplicatesRemovalStage
from raycurator.tasks import FileGroupTask, Task

logger = logging.getLogger(__name__)

DEDUPLICATED_DIR = "deduplicated"

INPUT_FILETYPES = ("jsonl", "parquet")


@dataclass
class DeduplicationResult:
    """What a deduplication workflow run produced."""

    duplicate_ids_path: str
    duplicate_id_files: list[str] = field(default_factory=list)
    num_duplicates: int = 0
    output_path: str | None = None
    output_files: list[str] = field(default_factory=list)
    identification_time_s: float = 0.0
    removal_time_s: float = 0.0


def default_executor() -> Any:
    """The executor used when a workflow is run without one: the in-process `LocalExecutor`."""
    from raycurator.backends.local import LocalExecutor  # lazy: stages sit below backends

    return LocalExecutor()


def check_filetype(filetype: str, what: str) -> str:
    """`filetype` lower-cased, or a `ValueError` listing the supported ones."""
    value = str(filetype).lower()
    if value not in INPUT_FILETYPES:
        raise ValueError(f"{what} must be one of {INPUT_FILETYPES}, got {filetype!r}")
    return value


def join_path(base: str, *parts: str) -> str:
    """`base` joined with `parts` by '/', for local paths and fsspec URLs alike."""
    return "/".join([base.rstrip("/"), *parts])


def make_id_stage(id_field: str) -> ProcessingStage:
    """The stage giving documents stable ids ``"<task_id>_<row>"`` (`AddId`)."""
    from raycurator.stages.text.modules import AddId

    return AddId(id_field=id_field)


def make_reader(
    input_path: str | list[str],
    filetype: str,
    fields: list[str] | None,
    files_per_partition: int | None,
    blocksize: int | str | None,
    file_extensions: list[str] | None,
    read_kwargs: dict[str, Any] | None,
) -> ProcessingStage:
    """The `JsonlReader` or `ParquetReader` for the input, reading only `fields` (None: all)."""
    from raycurator.stages.text.io.reader import JsonlReader, ParquetReader

    reader_cls = JsonlReader if filetype == "jsonl" else ParquetReader
    if files_per_partition is None and blocksize is None:
        files_per_partition = 1
    return reader_cls(
        input_path,
        files_per_partition=files_per_partition,
        blocksize=blocksize,
        fields=fields,
        read_kwargs=read_kwargs,
        file_extensions=file_extensions,
    )


def make_writer(path: str, filetype: str, write_kwargs: dict[str, Any] | None = None) -> ProcessingStage:
    """A `JsonlWriter` or `ParquetWriter` writing under `path`."""
    from raycurator.stages.text.io.writer import JsonlWriter, ParquetWriter

    writer_cls = JsonlWriter if filetype == "jsonl" else ParquetWriter
    return writer_cls(path, write_kwargs=write_kwargs)


def flatten_stages(stages: list[ProcessingStage]) -> list[ProcessingStage]:
    """The plain stages of a list that may hold composite stages (decomposed recursively)."""
    flat: list[ProcessingStage] = []
    for stage in stages:
        if isinstance(stage, CompositeStage):
            flat.extend(flatten_stages(stage.decompose_and_apply_with()))
        else:
            flat.append(stage)
    return flat


def run_stages(executor: Any, stages: list[ProcessingStage], what: str) -> tuple[list[Task], float]:
    """Run `stages` from the start token on `executor`; (output tasks, seconds taken)."""
    flat = flatten_stages(stages)
    logger.info("%s: running %d stage(s): %s", what, len(flat), ", ".join(s.name for s in flat))
    start = time.perf_counter()
    outputs = executor.execute(flat, None)
    return list(outputs or []), time.perf_counter() - start


def written_files(tasks: list[Task]) -> list[str]:
    """The files listed by the writer's output tasks, sorted."""
    files: list[str] = []
    for task in tasks:
        if isinstance(task, FileGroupTask):
            files.extend(task.data)
    return sorted(files)


def parquet_row_count(files: list[str]) -> int:
    """Total number of rows of the Parquet `files` (from their footers)."""
    total = 0
    for file in files:
        fs, local = fsspec.core.url_to_fs(file)
        with fs.open(local, "rb") as handle:
            total += pq.ParquetFile(handle).metadata.num_rows
    return total


def prepare_output_dir(path: str, overwrite: bool) -> None:
    """Create `path`; an earlier run's files there are removed with `overwrite`, else an error."""
    fs, local = fsspec.core.url_to_fs(path)
    if fs.exists(local) and fs.ls(local):
        if not overwrite:
            raise FileExistsError(
                f"output directory '{path}' is not empty; remove it, choose another output_path "
                f"or pass overwrite=True"
            )
        logger.info("removing the earlier run's output under '%s'", path)
        fs.rm(local, recursive=True)
    fs.makedirs(local, exist_ok=True)


class DeduplicationWorkflowBase:
    """What the exact and fuzzy workflows share: reading, the removal pass and `run()`.

    Subclasses set the attributes their `__init__` documents and define `duplicate_ids_path`,
    `identification_stages()` and `_label`.
    """

    _label = "dedup"
    input_path: str | list[str]
    input_filetype: str
    output_path: str
    output_filetype: str
    id_field: str | None
    keep_assigned_ids: bool
    perform_removal: bool
    overwrite: bool
    files_per_partition: int | None
    input_blocksize: int | str | None
    input_file_extensions: list[str] | None
    read_kwargs: dict[str, Any] | None
    write_kwargs: dict[str, Any] | None

    @property
    def duplicate_ids_path(self) -> str:
        raise NotImplementedError

    def identification_stages(self) -> list[ProcessingStage]:
        raise NotImplementedError

    def _extra_output_dirs(self) -> list[str]:
        """Further directories the run writes (prepared like the others)."""
        return []

    @property
    def deduplicated_path(self) -> str:
        """Directory of the deduplicated documents."""
        return join_path(self.output_path, DEDUPLICATED_DIR)

    @property
    def _working_id_field(self) -> str:
        return self.id_field or CURATOR_DEDUP_ID_STR

    def _read_stages(self, fields: list[str] | None) -> list[ProcessingStage]:
        reader = make_reader(
            self.input_path,
            self.input_filetype,
            fields,
            self.files_per_partition,
            self.input_blocksize,
            self.input_file_extensions,
            self.read_kwargs,
        )
        return [reader] if self.id_field else [reader, make_id_stage(CURATOR_DEDUP_ID_STR)]

    def removal_stages(self) -> list[ProcessingStage]:
        """The stages of the removal pass (reading to writing the deduplicated documents)."""
        return [
            *self._read_stages(None),
            TextDuplicatesRemovalStage(
                ids_to_remove_path=self.duplicate_ids_path,
                id_field=self._working_id_field,
                duplicate_id_field=self._working_id_field,
                drop_id_field=self.id_field is None and not self.keep_assigned_ids,
            ),
            make_writer(self.deduplicated_path, self.output_filetype, self.write_kwargs),
        ]

    def run(self, executor: Any = None) -> DeduplicationResult:
        """Run identification (and removal) on `executor` (default: the local executor)."""
        executor = executor if executor is not None else default_executor()
        for directory in [self.duplicate_ids_path, *self._extra_output_dirs()]:
            prepare_output_dir(directory, self.overwrite)
        if self.perform_removal:
            prepare_output_dir(self.deduplicated_path, self.overwrite)
        tasks, identify_s = run_stages(executor, self.identification_stages(), f"{self._label} identification")
        id_files = written_files(tasks)
        result = DeduplicationResult(
            duplicate_ids_path=self.duplicate_ids_path,
            duplicate_id_files=id_files,
            num_duplicates=parquet_row_count(id_files),
            identification_time_s=identify_s,
        )
        logger.info("%s: %d duplicate document(s) in %.2fs", self._label, result.num_duplicates, identify_s)
        if self.perform_removal:
            tasks, removal_s = run_stages(executor, self.removal_stages(), f"{self._label} removal")
            result.output_path = self.deduplicated_path
            result.output_files = written_files(tasks)
            result.removal_time_s = removal_s
        return result
