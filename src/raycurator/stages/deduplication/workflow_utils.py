"""Stage-level helpers of the deduplication workflows: readers, writers, output folders.

The workflows themselves run pipelines, so they live in the pipeline layer
(`raycurator.pipeline.dedup_workflow` and the modules beside it).
"""

from __future__ import annotations

import logging
from typing import Any

import fsspec
import pyarrow.parquet as pq

from raycurator.stages.base import CompositeStage, ProcessingStage
from raycurator.tasks import FileGroupTask, Task

logger = logging.getLogger(__name__)

DEDUPLICATED_DIR = "deduplicated"

INPUT_FILETYPES = ("jsonl", "parquet")


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
