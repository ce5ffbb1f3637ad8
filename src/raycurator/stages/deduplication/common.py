"""Names and small helpers shared by the exact and fuzzy deduplication stages."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from raycurator.errors import StageInputError
from raycurator.tasks import DocumentBatch

#: Column holding the document ids that deduplication works on, when the input brings none.
CURATOR_DEDUP_ID_STR = "_curator_dedup_id"
#: Column of the duplicate-id lists naming the document each duplicate was kept in favour of.
DUPLICATE_OF_FIELD = "_duplicate_of"


def table_of(task: DocumentBatch, stage_name: str) -> pa.Table:
    """The task's data as an Arrow table, or a `StageInputError` naming the stage and task."""
    if not isinstance(task, DocumentBatch):
        raise StageInputError(
            f"stage '{stage_name}' needs DocumentBatch tasks; got {type(task).__name__} '{task.task_id}'"
        )
    return task.to_pyarrow()


def require_columns(table: pa.Table, columns: list[str], stage_name: str, task: DocumentBatch) -> None:
    """Raise a `StageInputError` naming stage, task and files when `columns` are missing."""
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        files = task.source_files
        hint = f" (source files: {', '.join(files[:5])})" if files else ""
        raise StageInputError(
            f"stage '{stage_name}': task '{task.task_id}' lacks column(s) {missing}; "
            f"it has {sorted(table.column_names)}{hint}"
        )


def require_non_null_ids(table: pa.Table, id_field: str, stage_name: str, task: DocumentBatch) -> None:
    """Raise a `StageInputError` when the id column has nulls (every document needs an id)."""
    nulls = table.column(id_field).null_count
    if nulls:
        files = task.source_files
        hint = f" (source files: {', '.join(files[:5])})" if files else ""
        raise StageInputError(
            f"stage '{stage_name}': task '{task.task_id}' has {nulls} document(s) without an id in "
            f"'{id_field}'{hint}; deduplication needs an id on every document"
        )


def text_values(table: pa.Table, text_field: str) -> list[str]:
    """The text column as Python strings, nulls as empty strings."""
    column = table.column(text_field)
    if column.null_count:
        column = pc.fill_null(column, "")
    return column.to_pylist()


def with_batch(task: DocumentBatch, table: pa.Table, suffix: str | None = None) -> DocumentBatch:
    """A new `DocumentBatch` carrying `table` and the input task's id, dataset, perf and metadata."""
    return DocumentBatch(
        task_id=task.task_id if suffix is None else f"{task.task_id}-{suffix}",
        dataset_name=task.dataset_name,
        data=table,
        _stage_perf=list(task._stage_perf),
        _metadata=dict(task._metadata),
    )


def sort_by_id(table: pa.Table, id_field: str) -> pa.Table:
    """`table` sorted by its id column (a deterministic row order)."""
    if table.num_rows < 2:
        return table
    return table.take(pc.sort_indices(table, sort_keys=[(id_field, "ascending")]))


def empty_duplicates_table(id_type: pa.DataType, id_field: str) -> pa.Table:
    """A duplicate-id table with no rows: `id_field` and `_duplicate_of`."""
    return pa.table({id_field: pa.array([], type=id_type), DUPLICATE_OF_FIELD: pa.array([], type=id_type)})
