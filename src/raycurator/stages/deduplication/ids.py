"""Stable document ids for deduplication, derived from the task id and the row index.

Deduplication names the documents it removes by id. When the input has no id column, this
stage adds one: ``"<task_id>:<row>"`` (row zero-padded to 9 digits). Readers give tasks
deterministic and unique ids (derived from the files they read), so reading the same input
with the same options twice yields the same ids -- which is what lets the removal pass,
reading the input a second time, find the documents the identification pass named.
"""

from __future__ import annotations

import logging

import pyarrow as pa

from raycurator.errors import StageInputError
from raycurator.stages.base import ProcessingStage
from raycurator.stages.deduplication.common import CURATOR_DEDUP_ID_STR, table_of, with_batch
from raycurator.tasks import DocumentBatch

logger = logging.getLogger(__name__)


def task_row_ids(task_id: str, num_rows: int) -> pa.Array:
    """``"<task_id>:<row>"`` for every row of a task, row zero-padded to 9 digits."""
    return pa.array([f"{task_id}:{row:09d}" for row in range(num_rows)], type=pa.string())


class AssignDedupIds(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Add a stable id column (``"<task_id>:<row>"``) to every document batch.

    With `overwrite=False` (default) a batch that already has the column is an error, so an
    existing id is never silently replaced.
    """

    _name = "AssignDedupIds"

    def __init__(self, id_field: str = CURATOR_DEDUP_ID_STR, overwrite: bool = False) -> None:
        self.id_field = id_field
        self.overwrite = overwrite

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [self.id_field]

    def process(self, task: DocumentBatch) -> DocumentBatch:
        table = table_of(task, self.name)
        if self.id_field in table.column_names:
            if not self.overwrite:
                raise StageInputError(
                    f"stage '{self.name}': task '{task.task_id}' already has an id column "
                    f"'{self.id_field}'; pass overwrite=True to replace it or use it as the id field"
                )
            table = table.drop_columns([self.id_field])
        ids = task_row_ids(task.task_id, table.num_rows)
        return with_batch(task, table.append_column(self.id_field, ids))
