"""Removal of listed duplicates from document batches (shared by exact and fuzzy dedup)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from raycurator.errors import StageInputError
from raycurator.stages.base import ProcessingStage
from raycurator.stages.deduplication.common import (
    CURATOR_DEDUP_ID_STR,
    require_columns,
    table_of,
    with_batch,
)
from raycurator.tasks import DocumentBatch

logger = logging.getLogger(__name__)


def list_parquet_files(path: str) -> list[str]:
    """Parquet files at `path` (a file, or a directory searched recursively, hidden entries left
    out), sorted; fsspec URLs work."""
    fs, root = fsspec.core.url_to_fs(path)
    if fs.isfile(root):
        files = [root]
    elif fs.isdir(root):
        files = sorted(
            f
            for f in fs.find(root)
            if f.endswith(".parquet")
            and not any(part.startswith((".", "_")) for part in f[len(root.rstrip("/")) + 1 :].split("/"))
        )
    else:
        raise FileNotFoundError(f"duplicate-id list '{path}' does not exist")
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return [f if protocol in ("file", "local") else fs.unstrip_protocol(f) for f in files]


def read_id_column(paths: str | list[str], column: str) -> pa.ChunkedArray:
    """Column `column` of every Parquet file under `paths`, concatenated (empty when none)."""
    arrays: list[pa.ChunkedArray] = []
    for path in [paths] if isinstance(paths, str) else list(paths):
        for file in list_parquet_files(path):
            fs, local = fsspec.core.url_to_fs(file)
            with fs.open(local, "rb") as handle:
                table = pq.read_table(handle)
            if column not in table.column_names:
                raise StageInputError(
                    f"duplicate-id file '{file}' has no column '{column}'; it has {table.column_names}"
                )
            arrays.append(table.column(column))
    if not arrays:
        return pa.chunked_array([], type=pa.string())
    return pa.chunked_array([c for a in arrays for c in a.chunks], type=arrays[0].type)


class TextDuplicatesRemovalStage(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Drop the documents whose `id_field` is listed in duplicate-id Parquet files (or given ids).

    `ids_to_remove_path` is a Parquet file or a directory of them (local path or fsspec URL)
    whose `duplicate_id_field` column lists the ids to drop, as written by the exact and fuzzy
    identification stages. `drop_id_field=True` removes the id column from the output.
    """

    _name = "TextDuplicatesRemovalStage"

    def __init__(
        self,
        ids_to_remove_path: str | list[str] | None = None,
        id_field: str = CURATOR_DEDUP_ID_STR,
        duplicate_id_field: str = CURATOR_DEDUP_ID_STR,
        ids_to_remove: Iterable[Any] | pa.Array | pa.ChunkedArray | None = None,
        drop_id_field: bool = False,
    ) -> None:
        if ids_to_remove_path is None and ids_to_remove is None:
            raise ValueError("TextDuplicatesRemovalStage needs ids_to_remove_path or ids_to_remove")
        self.ids_to_remove_path = ids_to_remove_path
        self.id_field = id_field
        self.duplicate_id_field = duplicate_id_field
        self.ids_to_remove = ids_to_remove
        self.drop_id_field = drop_id_field
        self._value_set: pa.Array | None = None

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [self.id_field]

    def setup(self, worker_metadata: Any = None) -> None:
        self._load()

    def _load(self) -> pa.Array:
        if self._value_set is not None:
            return self._value_set
        chunks: list[pa.Array] = []
        if self.ids_to_remove_path is not None:
            try:
                chunks.extend(read_id_column(self.ids_to_remove_path, self.duplicate_id_field).chunks)
            except FileNotFoundError as error:
                raise FileNotFoundError(f"stage '{self.name}': {error}") from error
        if self.ids_to_remove is not None:
            given = self.ids_to_remove
            if isinstance(given, pa.ChunkedArray):
                chunks.extend(given.chunks)
            elif isinstance(given, pa.Array):
                chunks.append(given)
            else:
                chunks.append(pa.array(list(given)))
        non_empty = [c for c in chunks if len(c)]
        if not non_empty:
            values = pa.array([], type=pa.string())
        else:
            values = pa.chunked_array(non_empty, type=non_empty[0].type).combine_chunks()
        self._value_set = pc.unique(values)
        logger.info("stage '%s': %d id(s) to remove", self.name, len(self._value_set))
        return self._value_set

    def process(self, task: DocumentBatch) -> DocumentBatch | None:
        table = table_of(task, self.name)
        require_columns(table, [self.id_field], self.name, task)
        value_set = self._load()
        ids = table.column(self.id_field)
        if len(value_set) and value_set.type != ids.type:
            try:
                value_set = value_set.cast(ids.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
                raise StageInputError(
                    f"stage '{self.name}': task '{task.task_id}' ids in '{self.id_field}' are {ids.type} "
                    f"but the duplicate ids are {value_set.type}: {error}"
                ) from error
        if len(value_set):
            keep = pc.invert(pc.fill_null(pc.is_in(ids, value_set=value_set), False))
            kept = table.filter(keep)
        else:
            kept = table
        removed = table.num_rows - kept.num_rows
        self._log_metrics({"num_removed": removed, "num_kept": kept.num_rows})
        if self.drop_id_field:
            kept = kept.drop_columns([self.id_field])
        return with_batch(task, kept)
