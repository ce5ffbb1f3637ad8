"""`AssignDedupIds`: integer `_curator_dedup_id`s from the id generator actor, per input file group."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from raycurator.errors import StageInputError
from raycurator.stages.base import ProcessingStage
from raycurator.stages.deduplication.common import CURATOR_DEDUP_ID_STR, table_of, with_batch
from raycurator.stages.deduplication.id_generator import IdGeneratorBase, get_id_generator_actor
from raycurator.tasks import DocumentBatch


class AddDedupIdsFromGenerator(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Adds `_curator_dedup_id`: the range the id generator reserves for the batch's source files.

    The generator is the running `IdGenerator` actor (see `id_generator`), or `id_generator`
    when given (an `IdGeneratorBase`, for a single process). Reading the same files again gives
    the same ids, as NeMo Curator's readers with `_assign_ids` do. A batch that already has the
    column keeps it.
    """

    _name = "AddDedupIdsFromGenerator"

    def __init__(self, id_generator: IdGeneratorBase | None = None) -> None:
        self.id_generator = id_generator

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [CURATOR_DEDUP_ID_STR]

    def setup(self, worker_metadata: Any = None) -> None:
        if self.id_generator is None:
            self._actor = get_id_generator_actor()

    def _first_id(self, files: list[str], count: int) -> int:
        if self.id_generator is not None:
            return self.id_generator.register_batch(files, count)
        import ray

        actor = getattr(self, "_actor", None) or get_id_generator_actor()
        return int(ray.get(actor.register_batch.remote(files, count)))

    def process(self, task: DocumentBatch) -> DocumentBatch:
        table = table_of(task, self.name)
        if CURATOR_DEDUP_ID_STR in table.column_names:
            return task
        files = task.source_files
        if not files:
            raise StageInputError(
                f"stage '{self.name}': task '{task.task_id}' names no source files; ids are reserved per file group"
            )
        first = self._first_id(files, table.num_rows)
        ids = pa.array(np.arange(first, first + table.num_rows, dtype=np.int64))
        return with_batch(task, table.append_column(CURATOR_DEDUP_ID_STR, ids))
