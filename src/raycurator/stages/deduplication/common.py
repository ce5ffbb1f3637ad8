"""Names and small helpers shared by the exact and fuzzy deduplication stages."""

from __future__ import annotations

import uuid

import fsspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from raycurator.errors import StageInputError
from raycurator.tasks import DocumentBatch, FileGroupTask

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


def normalize_dedup_text(text: str) -> str:
    """NeMo Curator's `normalize_text` for deduplication: lower case, whitespace runs to one space, trimmed."""
    return " ".join(text.lower().split())


def with_batch(task: DocumentBatch, table: pa.Table, suffix: str | None = None) -> DocumentBatch:
    """A new `DocumentBatch` carrying `table` and the input task's id, dataset, perf and metadata."""
    task_id = task.task_id if suffix is None else f"{task.task_id}-{suffix}"
    return task.derive_as(DocumentBatch, table, task_id=task_id)


def sort_by_id(table: pa.Table, id_field: str) -> pa.Table:
    """`table` sorted by its id column (a deterministic row order)."""
    if table.num_rows < 2:
        return table
    return table.take(pc.sort_indices(table, sort_keys=[(id_field, "ascending")]))


def empty_duplicates_table(id_type: pa.DataType, id_field: str) -> pa.Table:
    """A duplicate-id table with no rows: `id_field` and `_duplicate_of`."""
    return pa.table({id_field: pa.array([], type=id_type), DUPLICATE_OF_FIELD: pa.array([], type=id_type)})


def write_ids_file(table: pa.Table, directory: str, file_name: str, dataset_name: str, task_id: str) -> FileGroupTask:
    """Write `table` as ``<directory>/<file_name>`` (Parquet, through a temporary file and a rename).

    Lets the stage that finds duplicate ids write them itself, so a run needs no writer workers
    after it. Returns the `FileGroupTask` naming the file, as a writer stage would.
    """
    fs, root = fsspec.core.url_to_fs(directory)
    fs.makedirs(root, exist_ok=True)
    final = f"{root.rstrip('/')}/{file_name}"
    temporary = f"{root.rstrip('/')}/.{file_name}.{uuid.uuid4().hex}.tmp"
    try:
        with fs.open(temporary, "wb") as handle:
            pq.write_table(table, handle)
        fs.mv(temporary, final)
    finally:
        if fs.exists(temporary):
            fs.rm(temporary)
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    path = final if protocol in ("file", "local") else fs.unstrip_protocol(final)
    metadata = {"num_rows": table.num_rows}
    return FileGroupTask(task_id=task_id, dataset_name=dataset_name, data=[path], _metadata=metadata)
