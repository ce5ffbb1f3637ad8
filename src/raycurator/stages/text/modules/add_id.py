"""`AddId`: gives every document a stable identifier."""

from __future__ import annotations

import logging

import pyarrow as pa
import pyarrow.compute as pc

from raycurator.errors import StageInputError
from raycurator.stages.base import ProcessingStage
from raycurator.stages.text._batch import require_document_batch, set_column, with_table
from raycurator.tasks import DocumentBatch

logger = logging.getLogger(__name__)


class AddId(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Adds `id_field` holding `"{id_prefix}_{task_id}_{row}"` (or `"{task_id}_{row}"`).

    The id depends only on the task id and the row's position in the batch, so a rerun over
    the same input (deterministic task ids, as the readers produce) gives the same ids. An
    existing `id_field` is an error unless `overwrite=True`.
    """

    def __init__(self, id_field: str = "_curator_id", id_prefix: str | None = None, overwrite: bool = False) -> None:
        if not isinstance(id_field, str) or not id_field:
            raise ValueError(f"AddId: id_field must be a non-empty string, got {id_field!r}")
        self.id_field = id_field
        self.id_prefix = id_prefix
        self.overwrite = overwrite
        self._name = "AddId"

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [self.id_field]

    def process(self, task: DocumentBatch) -> DocumentBatch:
        table = require_document_batch(self.name, task).to_pyarrow()
        if self.id_field in table.column_names and not self.overwrite:
            files = ", ".join(task.source_files[:5])
            raise StageInputError(
                f"stage '{self.name}': task '{task.task_id}' already has column '{self.id_field}'"
                + (f" (source files: {files})" if files else "")
                + "; pass overwrite=True to replace it or choose another id_field"
            )
        stem = f"{self.id_prefix}_{task.task_id}_" if self.id_prefix else f"{task.task_id}_"
        rows = pc.cast(pa.array(range(table.num_rows), type=pa.int64()), pa.string())
        ids = pc.binary_join_element_wise(pa.scalar(stem), rows, "")
        return with_table(task, set_column(table, self.id_field, ids))
