"""Helpers for stages that turn one `DocumentBatch` into another."""

from __future__ import annotations

import pyarrow as pa

from raycurator.errors import StageInputError
from raycurator.tasks import DocumentBatch, Task


def require_document_batch(stage_name: str, task: Task) -> DocumentBatch:
    """`task` itself when it is a `DocumentBatch`; a `StageInputError` naming both otherwise."""
    if not isinstance(task, DocumentBatch):
        raise StageInputError(
            f"stage '{stage_name}' processes DocumentBatch tasks; got {type(task).__name__} '{task.task_id}'"
        )
    return task


def with_table(task: DocumentBatch, table: pa.Table) -> DocumentBatch:
    """A batch like `task` (id, dataset, metadata, perf history) holding `table`."""
    return DocumentBatch(
        task_id=task.task_id,
        dataset_name=task.dataset_name,
        data=table,
        _stage_perf=list(task._stage_perf),
        _metadata=dict(task._metadata),
    )


def set_column(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    """`table` with column `name` replaced by `values`, or appended when absent."""
    index = table.schema.get_field_index(name)
    if index >= 0:
        return table.set_column(index, name, values)
    return table.append_column(name, values)
