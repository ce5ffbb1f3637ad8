"""`BaseWriter`: one output file per task (per partition value), named from the task id, written atomically."""

from __future__ import annotations

import json
import logging
from abc import abstractmethod
from typing import Any

import pyarrow as pa

from raycurator.stages.base import ProcessingStage
from raycurator.stages.file_partitioning import RUN_ID_KEY
from raycurator.stages.output_manifest import ManifestEntry
from raycurator.stages.run_lifecycle import OutputSession, RunContext, WritesOutputFolder
from raycurator.stages.text._batch import require_document_batch
from raycurator.stages.text.io._fs import is_local, url_to_fs
from raycurator.stages.text.io.writer._files import (
    OutputCollisionError,
    atomic_write,
    claim,
    content_hash,
    file_stem,
    join_inside,
    record_path,
)
from raycurator.stages.text.io.writer._lock import DEFAULT_STALE_AFTER_S
from raycurator.stages.text.io.writer._partition import split_by
from raycurator.stages.text.io.writer.output_folder import OutputFolderSession, WriteMode
from raycurator.tasks import DocumentBatch, FileGroupTask

logger = logging.getLogger(__name__)


class BaseWriter(ProcessingStage[DocumentBatch, FileGroupTask], WritesOutputFolder):
    """Writes each `DocumentBatch` to `<path>/<task id, sanitised>.<file_extension>`.

    The same task id always gives the same file (reruns replace their earlier output); two
    different tasks writing the same file in one run is an `OutputCollisionError` (see
    `_files` for how workers detect it). Writes are atomic: a hidden temporary file in the
    same folder is renamed into place. The output is a `FileGroupTask` listing the written
    file(s), with the input's metadata (`source_files`, ...) carried over.

    `mode` (NeMo Curator's): "ignore" (default) keeps what the folder holds and replaces files
    of the same name; "overwrite" leaves only this run's files (a file whose input is gone is
    deleted); "append" keeps everything and suffixes this run's file names with a run token;
    "error" refuses a folder that exists. `partition_by` (a column or list of columns) writes
    each task's rows into Hive-style `<column>=<value>/` folders, one file per value (the
    column stays in the file). Under an executor, a successful run leaves the data files and
    a `_SUCCESS` manifest (see `output_folder`).
    """

    def __init__(
        self,
        path: str,
        file_extension: str,
        write_kwargs: dict[str, Any] | None = None,
        fields: list[str] | None = None,
        storage_options: dict[str, Any] | None = None,
        mode: str = "ignore",
        partition_by: str | list[str] | None = None,
    ) -> None:
        if not isinstance(path, str) or not path:
            raise ValueError(f"{type(self).__name__}: path must be a non-empty string, got {path!r}")
        extension = file_extension.lstrip(".")
        if not extension or "/" in extension or "\\" in extension:
            raise ValueError(f"{type(self).__name__}: bad file_extension {file_extension!r}")
        self.path = path
        self.file_extension = extension
        self.write_kwargs = dict(write_kwargs or {})
        self.storage_options = dict(self.write_kwargs.pop("storage_options", None) or {})
        self.storage_options.update(storage_options or {})
        self.fields = list(fields) if fields is not None else None
        self.mode = WriteMode.parse(mode, type(self).__name__).value
        columns = [partition_by] if isinstance(partition_by, str) else list(partition_by or [])
        if not all(isinstance(c, str) and c for c in columns) or len(set(columns)) != len(columns):
            raise ValueError(f"{type(self).__name__}: partition_by must name distinct columns, got {partition_by!r}")
        if self.fields is not None and not set(columns) <= set(self.fields):
            raise ValueError(
                f"{type(self).__name__}: partition_by columns {columns} must be among fields {self.fields}"
            )
        self.partition_by = columns or None
        self.lock_stale_after_s = DEFAULT_STALE_AFTER_S
        self._run_token: str | None = None  # set on the driver by open_output while a run is open
        self._written: dict[tuple[str, str], str] = {}

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], list(self.fields or []) + [c for c in self.partition_by or [] if c not in (self.fields or [])]

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], []

    def output_path(self) -> str:
        return self.path

    def open_output(self, context: RunContext) -> OutputSession:
        session = OutputFolderSession(
            type(self).__name__, self.path, self.storage_options, WriteMode(self.mode), context, self.lock_stale_after_s
        )
        self._run_token = session.token
        return _ClearToken(session, self)

    def setup(self, worker_metadata: Any = None) -> None:
        self._written = {}

    @abstractmethod
    def serialize(self, table: pa.Table) -> bytes:
        """The file content for `table`."""

    def file_name(self, task: DocumentBatch) -> str:
        """The output file name of `task`: its sanitised id (plus the run token in "append" mode) and the extension."""
        suffix = f"-{self._run_token}" if self._run_token and self.mode == WriteMode.APPEND else ""
        return f"{file_stem(task.task_id)}{suffix}.{self.file_extension}"

    def process(self, task: DocumentBatch) -> FileGroupTask:
        table = require_document_batch(self.name, task).to_pyarrow()
        wanted = list(self.fields or []) + [c for c in self.partition_by or [] if c not in (self.fields or [])]
        missing = [f for f in wanted if f not in table.column_names]
        if missing:
            raise ValueError(
                f"stage '{self.name}': task '{task.task_id}' lacks field(s) {missing} to write; "
                f"it has {table.column_names}"
            )
        if self.fields is not None:
            table = table.select(self.fields)
        fs, root = url_to_fs(self.path, self.storage_options)
        name = self.file_name(task)
        run_id = str(task._metadata.get(RUN_ID_KEY) or "")
        written: list[str] = []
        rows = size = 0
        for folder, part in split_by(table, self.partition_by or []):
            relative = f"{folder}/{name}" if folder else name
            data = self.serialize(part)
            self._write_one(fs, root, relative, data, part.num_rows, task.task_id, run_id)
            target = self._target(root, relative)
            written.append(target if is_local(fs) else fs.unstrip_protocol(target))
            rows, size = rows + part.num_rows, size + len(data)
        self._log_metrics({"rows_written": rows, "bytes_written": size, "files_written": len(written)})
        metadata = dict(task._metadata)
        metadata.setdefault("source_files", task.source_files)
        return task.derive_as(FileGroupTask, written, _metadata=metadata)

    @staticmethod
    def _target(root: str, relative: str) -> str:
        folder, _, name = relative.rpartition("/")
        directory = root
        for segment in folder.split("/") if folder else []:
            directory = join_inside(directory, segment)
        return join_inside(directory, name)

    def _write_one(
        self, fs: Any, root: str, relative: str, data: bytes, rows: int, task_id: str, run_id: str
    ) -> None:
        checksum = content_hash(data)
        owner = f"{task_id}\n{checksum}"
        earlier = self._written.get((run_id, relative), owner)
        if earlier != owner:
            raise OutputCollisionError(
                f"stage '{self.name}': output file {relative!r} under {self.path} was already written in this run "
                f"by task {earlier.split(chr(10))[0]!r} with different content; task '{task_id}' would "
                "overwrite it (task ids must be unique)"
            )
        if run_id:
            claim(fs, root, run_id, relative, owner)
        atomic_write(fs, self._target(root, relative), data)
        if self._run_token is not None:  # an executor opened the folder: record the file for the manifest
            entry = ManifestEntry(path=relative, rows=rows, bytes=len(data), xxh3_128=checksum)
            atomic_write(fs, record_path(root, relative), json.dumps(entry.to_dict()).encode("utf-8"), sweep=False)
        self._written[(run_id, relative)] = owner


class _ClearToken(OutputSession):
    """Closes a writer's folder session and forgets the run token it gave the writer."""

    def __init__(self, session: OutputFolderSession, writer: BaseWriter) -> None:
        self.session, self.writer = session, writer

    def finish(self, succeeded: bool) -> None:
        self.writer._run_token = None
        self.session.finish(succeeded)
