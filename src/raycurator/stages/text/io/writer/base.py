"""`BaseWriter`: one output file per task, named from the task id, written atomically."""

from __future__ import annotations

import logging
from abc import abstractmethod
from typing import Any

import pyarrow as pa

from raycurator.stages.base import ProcessingStage
from raycurator.stages.file_partitioning import RUN_ID_KEY
from raycurator.stages.text._batch import require_document_batch
from raycurator.stages.text.io._fs import is_local, url_to_fs
from raycurator.stages.text.io.writer._files import (
    OutputCollisionError,
    atomic_write,
    claim,
    content_hash,
    file_stem,
    join_inside,
)
from raycurator.tasks import DocumentBatch, FileGroupTask

logger = logging.getLogger(__name__)


class BaseWriter(ProcessingStage[DocumentBatch, FileGroupTask]):
    """Writes each `DocumentBatch` to `<path>/<task id, sanitised>.<file_extension>`.

    The same task id always gives the same file (reruns replace their earlier output); two
    different tasks writing the same file in one run is an `OutputCollisionError` (see
    `_files` for how workers detect it). Writes are atomic: a hidden temporary file in the
    same folder is renamed into place. The output is a `FileGroupTask` listing the written
    file, with the input's metadata (`source_files`, ...) carried over.
    """

    def __init__(
        self,
        path: str,
        file_extension: str,
        write_kwargs: dict[str, Any] | None = None,
        fields: list[str] | None = None,
        storage_options: dict[str, Any] | None = None,
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
        self._written: dict[tuple[str, str], str] = {}

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], list(self.fields or [])

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], []

    def setup(self, worker_metadata: Any = None) -> None:
        self._written = {}

    @abstractmethod
    def serialize(self, table: pa.Table) -> bytes:
        """The file content for `table`."""

    def file_name(self, task: DocumentBatch) -> str:
        """The output file name of `task`: its sanitised id plus the extension."""
        return f"{file_stem(task.task_id)}.{self.file_extension}"

    def process(self, task: DocumentBatch) -> FileGroupTask:
        table = require_document_batch(self.name, task).to_pyarrow()
        if self.fields is not None:
            missing = [f for f in self.fields if f not in table.column_names]
            if missing:
                raise ValueError(
                    f"stage '{self.name}': task '{task.task_id}' lacks field(s) {missing} to write; "
                    f"it has {table.column_names}"
                )
            table = table.select(self.fields)
        fs, root = url_to_fs(self.path, self.storage_options)
        name = self.file_name(task)
        target = join_inside(root, name)
        data = self.serialize(table)
        owner = f"{task.task_id}\n{content_hash(data)}"
        run_id = str(task._metadata.get(RUN_ID_KEY) or "")
        earlier = self._written.get((run_id, name), owner)
        if earlier != owner:
            raise OutputCollisionError(
                f"stage '{self.name}': output file {name!r} under {self.path} was already written in this run "
                f"by task {earlier.split(chr(10))[0]!r} with different content; task '{task.task_id}' would "
                "overwrite it (task ids must be unique)"
            )
        if run_id:
            claim(fs, root, run_id, name, owner)
        atomic_write(fs, target, data)
        self._written[(run_id, name)] = owner
        written = target if is_local(fs) else fs.unstrip_protocol(target)
        self._log_metrics({"rows_written": table.num_rows, "bytes_written": len(data)})
        metadata = dict(task._metadata)
        metadata.setdefault("source_files", task.source_files)
        return FileGroupTask(
            task_id=task.task_id,
            dataset_name=task.dataset_name,
            data=[written],
            _stage_perf=list(task._stage_perf),
            _metadata=metadata,
        )
