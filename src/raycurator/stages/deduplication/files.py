"""File handling of the file-based deduplication stages (NeMo Curator 1.4's `MinHashStage`, `LSHStage`, ...).

Those stages pass paths from one to the next: each reads the files its input task names and
writes its results as Parquet under ``<output_path>/<stage folder>``. This module holds what
they share: making (or emptying) that folder when a stage is built, atomic Parquet writes,
reading JSONL or Parquet inputs with pyarrow (errors name the stage, task and file), and
integer ids from the id generator per group of files.
"""

from __future__ import annotations

import logging
import os
import posixpath
import uuid
from typing import Any

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.json as pj
import pyarrow.parquet as pq

from raycurator.errors import StageInputError
from raycurator.stages.deduplication.common import CURATOR_DEDUP_ID_STR
from raycurator.tasks import FileGroupTask, Task

logger = logging.getLogger(__name__)

__all__ = [
    "assign_generator_ids",
    "create_or_overwrite_dir",
    "file_group_of",
    "join_path",
    "read_files",
    "running_id_generator",
    "storage_options_of",
    "write_parquet_atomic",
]


def join_path(base: str, *parts: str) -> str:
    """`base` joined with `parts` by '/', for local paths and fsspec URLs alike."""
    return "/".join([base.rstrip("/") or "/", *parts]) if parts else base


def storage_options_of(kwargs: dict[str, Any] | None) -> dict[str, Any]:
    """The `storage_options` entry of a read/write kwargs mapping (empty when absent)."""
    return dict((kwargs or {}).get("storage_options") or {})


def _is_protected_local_folder(fs: Any, root: str) -> bool:
    """Whether `root` is a local folder that must never be emptied: /, the home folder, the current one or above it."""
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    if protocol not in ("file", "local"):
        return False
    folder = os.path.realpath(root)
    cwd = os.path.realpath(os.getcwd())
    home = os.path.realpath(os.path.expanduser("~"))
    return folder in (os.path.realpath(os.sep), home) or cwd == folder or cwd.startswith(folder.rstrip(os.sep) + os.sep)


def create_or_overwrite_dir(path: str, storage_options: dict[str, Any] | None = None) -> None:
    """Make the folder `path`; when it exists and holds anything, empty it first (NeMo Curator's rule).

    Unlike NeMo Curator, refuses to empty the filesystem root, the home folder, or the current
    folder or one above it (a stage left at its default ``output_path="./"`` would otherwise
    delete the working directory).
    """
    fs, root = fsspec.core.url_to_fs(path, **(storage_options or {}))
    if fs.exists(root):
        if not fs.isdir(root):
            raise NotADirectoryError(f"output folder {path} exists and is a file")
        if fs.ls(root) and _is_protected_local_folder(fs, root):
            raise ValueError(
                f"output folder {path} is not empty and is the current folder, one above it, the home folder "
                "or /; give the stage an output_path of its own (its contents would be deleted)"
            )
        if fs.ls(root):
            logger.warning("output folder %s is not empty; deleting its contents", path)
            fs.rm(root, recursive=True)
    fs.makedirs(root, exist_ok=True)


def write_parquet_atomic(
    table: pa.Table, path: str, storage_options: dict[str, Any] | None = None, **write_kwargs: Any
) -> str:
    """Write `table` to `path` through a temporary file beside it and a rename; returns `path`."""
    write_kwargs = {k: v for k, v in write_kwargs.items() if k not in ("index", "storage_options")}
    fs, target = fsspec.core.url_to_fs(path, **(storage_options or {}))
    parent = posixpath.dirname(target)
    if parent:
        fs.makedirs(parent, exist_ok=True)
    temporary = posixpath.join(parent, f".{posixpath.basename(target)}.{uuid.uuid4().hex}.tmp")
    try:
        with fs.open(temporary, "wb") as handle:
            pq.write_table(table, handle, **write_kwargs)
        fs.mv(temporary, target)
    finally:
        if fs.exists(temporary):
            fs.rm(temporary)
    return path


def file_group_of(task: Task, stage_name: str) -> FileGroupTask:
    """`task` when it is a `FileGroupTask` naming at least one file, else a `StageInputError`."""
    if not isinstance(task, FileGroupTask):
        raise StageInputError(
            f"stage '{stage_name}' reads FileGroupTasks; got {type(task).__name__} '{task.task_id}'"
        )
    if not task.data:
        raise StageInputError(f"stage '{stage_name}': task '{task.task_id}' names no files")
    return task


def _read_one(path: str, filetype: str, columns: list[str] | None, read_kwargs: dict[str, Any]) -> pa.Table:
    kwargs = dict(read_kwargs)
    storage_options = kwargs.pop("storage_options", None) or {}
    kwargs.pop("columns", None)
    if filetype == "parquet":
        with fsspec.open(path, "rb", **storage_options) as handle:
            return pq.read_table(handle, columns=columns, **kwargs)
    if filetype == "jsonl":
        with fsspec.open(path, "rb", compression="infer", **storage_options) as handle:
            table = pj.read_json(handle)
        return table.select(columns) if columns is not None else table
    raise ValueError(f"unsupported file type {filetype!r}; use 'jsonl' or 'parquet'")


def read_files(
    task: FileGroupTask,
    stage_name: str,
    filetype: str = "parquet",
    columns: list[str] | None = None,
    read_kwargs: dict[str, Any] | None = None,
) -> pa.Table:
    """The rows of every file `task` names, in order, as one table (only `columns` when given).

    A file that cannot be read, or lacks a column, raises a `StageInputError` naming the stage,
    the task and the file.
    """
    tables = []
    for path in task.data:
        try:
            tables.append(_read_one(path, filetype, columns, read_kwargs or {}))
        except (OSError, KeyError, ValueError, pa.ArrowException) as error:
            raise StageInputError(
                f"stage '{stage_name}': task '{task.task_id}': cannot read {filetype} file {path}: {error}"
            ) from error
    return pa.concat_tables(tables, promote_options="default")


def assign_generator_ids(table: pa.Table, files: list[str], generator: Any) -> pa.Table:
    """`table` with `_curator_dedup_id`: the range `generator` reserves for `files` (kept when present).

    `generator` is the `IdGenerator` actor's handle or an `IdGeneratorBase`; the same files get
    the same range again, so a later pass over the same file groups assigns the same ids.
    """
    if CURATOR_DEDUP_ID_STR in table.column_names:
        return table
    register = generator.register_batch
    if hasattr(register, "remote"):
        import ray

        first = int(ray.get(register.remote(files, table.num_rows)))
    else:
        first = int(register(files, table.num_rows))
    ids = pa.array(np.arange(first, first + table.num_rows, dtype=np.int64))
    return table.append_column(CURATOR_DEDUP_ID_STR, ids)


def running_id_generator() -> Any:
    """The id generator actor's handle, or None when Ray is not connected or no generator runs.

    Does not start or connect to Ray (`ray.get_actor` would).
    """
    import ray

    if not ray.is_initialized():
        return None
    from raycurator.stages.deduplication.id_generator import get_id_generator_actor

    try:
        return get_id_generator_actor()
    except ValueError:
        return None
