"""Helpers for stages that turn one `DocumentBatch` into another."""

from __future__ import annotations

import logging

import pyarrow as pa

from raycurator.errors import StageInputError
from raycurator.stages.base import ProcessingStage
from raycurator.stages.text._arrow_text import to_string_array
from raycurator.tasks import DocumentBatch, Task

logger = logging.getLogger(__name__)


def require_document_batch(stage_name: str, task: Task) -> DocumentBatch:
    """`task` itself when it is a `DocumentBatch`; a `StageInputError` naming both otherwise."""
    if not isinstance(task, DocumentBatch):
        raise StageInputError(
            f"stage '{stage_name}' processes DocumentBatch tasks; got {type(task).__name__} '{task.task_id}'"
        )
    return task


def with_table(task: DocumentBatch, table: pa.Table) -> DocumentBatch:
    """A batch like `task` (id, dataset, metadata, perf history) holding `table`."""
    return task.derive(table)


def set_column(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    """`table` with column `name` replaced by `values`, or appended when absent."""
    index = table.schema.get_field_index(name)
    if index >= 0:
        return table.set_column(index, name, values)
    return table.append_column(name, values)


def text_column(stage: ProcessingStage, task: DocumentBatch, table: pa.Table, field: str) -> tuple[pa.Array, pa.Array]:
    """(the texts of `field` with nulls as "", a boolean array: which rows had no text).

    A column that does not hold strings is a `StageInputError` naming the stage, field, type,
    task and files. Rows whose text is null (or missing in the input) are counted in the
    stage's custom metric `null_text` and logged as a warning: every text stage treats them
    alike (filters judge them as empty text; `Modify` leaves them null).
    """
    column = table[field]
    kind = column.type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)):
        if not pa.types.is_null(kind):
            first = next((i for i, v in enumerate(column.to_pylist()) if v is not None), 0)
            files = ", ".join(task.source_files[:3]) or "(no source file)"
            raise StageInputError(
                f"stage '{stage.name}': field '{field}' of task '{task.task_id}' holds {kind} values, not text "
                f"(first at row {first} of the batch: {str(column[first].as_py())[:40]!r}); files: {files}"
            )
        column = pa.nulls(len(column), pa.string())
    missing = column.is_null()
    if isinstance(missing, pa.ChunkedArray):
        missing = missing.combine_chunks()
    count = column.null_count
    if count:
        stage._log_metric("null_text", count)
        logger.warning(
            "stage '%s': %d document(s) of task '%s' have no '%s' (null or missing); files: %s",
            stage.name,
            count,
            task.task_id,
            field,
            ", ".join(task.source_files[:3]) or "(no source file)",
        )
    return to_string_array(column), missing
