"""The reader base classes: a per-partition reader stage and the composite that lists files first."""

from __future__ import annotations

import logging
from abc import abstractmethod
from typing import Any

import pyarrow as pa

from raycurator.errors import StageInputError
from raycurator.stages.base import CompositeStage, ProcessingStage
from raycurator.stages.file_partitioning import FilePartitioningStage
from raycurator.tasks import DocumentBatch, FileGroupTask

logger = logging.getLogger(__name__)


def split_read_kwargs(
    read_kwargs: dict[str, Any] | None, storage_options: dict[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(storage options, other read options): `read_kwargs["storage_options"]` merges into the former."""
    rest = dict(read_kwargs or {})
    merged = dict(rest.pop("storage_options", None) or {})
    merged.update(storage_options or {})
    return merged, rest


class BaseReaderStage(ProcessingStage[FileGroupTask, DocumentBatch]):
    """Reads every file of a `FileGroupTask` into one `DocumentBatch` (an Arrow table).

    Files without rows are skipped; a group without any row yields no task. With `fields`,
    only those columns are kept and a file lacking one is an error naming field and file.
    """

    def __init__(self, fields: list[str] | None = None, storage_options: dict[str, Any] | None = None) -> None:
        if fields is not None and (isinstance(fields, str) or not all(isinstance(f, str) for f in fields)):
            raise ValueError(f"{type(self).__name__}: fields must be a list of column names, got {fields!r}")
        self.fields = list(fields) if fields is not None else None
        self.storage_options = dict(storage_options or {})

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], []

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], list(self.fields or [])

    @abstractmethod
    def read_file(self, path: str) -> pa.Table | None:
        """The rows of one file (None or an empty table when it has none)."""

    def select_fields(self, table: pa.Table, path: str) -> pa.Table:
        """`table` restricted to `self.fields`; a missing field is an error naming it and `path`."""
        if self.fields is None:
            return table
        missing = [f for f in self.fields if f not in table.column_names]
        if missing:
            raise ValueError(
                f"stage '{self.name}': field(s) {missing} not found in file {path}; its fields are {table.column_names}"
            )
        return table.select(self.fields)

    def process(self, task: FileGroupTask) -> DocumentBatch | None:
        if not isinstance(task, FileGroupTask):
            raise StageInputError(
                f"stage '{self.name}' reads FileGroupTask tasks; got {type(task).__name__} '{task.task_id}'"
            )
        tables = []
        for path in task.data:
            table = self.read_file(path)
            if table is not None and table.num_rows:
                tables.append(self.select_fields(table, path))
        if not tables:
            logger.info("stage '%s': task '%s' has no rows (files: %s)", self.name, task.task_id, task.data)
            return None
        try:
            table = tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
            raise ValueError(
                f"stage '{self.name}': files of task '{task.task_id}' have incompatible schemas "
                f"({error}); files: {task.data}"
            ) from error
        metadata = dict(task._metadata)
        metadata.setdefault("source_files", list(task.data))
        return task.derive_as(DocumentBatch, table, _metadata=metadata)


class BaseReader(CompositeStage[Any, DocumentBatch]):
    """File partitioning followed by a reader stage (see `make_reader_stage`).

    `use_manifest=True` reads exactly the files a writer's `_SUCCESS` manifest lists in each
    folder given (one complete run; see `FilePartitioningStage`).
    """

    default_extensions: tuple[str, ...] = ()

    def __init__(
        self,
        file_paths: str | list[str],
        files_per_partition: int | None = None,
        blocksize: int | str | None = None,
        fields: list[str] | None = None,
        read_kwargs: dict[str, Any] | None = None,
        file_extensions: list[str] | None = None,
        storage_options: dict[str, Any] | None = None,
        limit: int | None = None,
        use_manifest: bool = False,
    ) -> None:
        self.file_paths = file_paths
        self.use_manifest = use_manifest
        self.files_per_partition = files_per_partition
        self.blocksize = blocksize
        self.fields = fields
        self.storage_options, self.read_kwargs = split_read_kwargs(read_kwargs, storage_options)
        self.file_extensions = list(file_extensions) if file_extensions else list(self.default_extensions)
        self.limit = limit
        self.make_reader_stage()  # validate the reader options now rather than at build time

    @abstractmethod
    def make_reader_stage(self) -> ProcessingStage:
        """The stage reading one partition."""

    def decompose(self) -> list[ProcessingStage]:
        return [
            FilePartitioningStage(
                file_paths=self.file_paths,
                files_per_partition=self.files_per_partition,
                blocksize=self.blocksize,
                file_extensions=self.file_extensions,
                storage_options=self.storage_options,
                limit=self.limit,
                use_manifest=self.use_manifest,
            ),
            self.make_reader_stage(),
        ]
