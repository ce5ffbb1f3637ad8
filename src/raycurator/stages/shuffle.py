"""ShuffleStage: an all-to-all repartition of document tables by key.

Backends with a shuffle operator (the Ray actor-pool backend) run `partition` on every input
in parallel and `merge` once per output partition, moving tables through the object store.
Any other backend treats the stage as a barrier: `process_batch` gets every input at once and
does both halves in-process. Both paths give the same partitions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from raycurator.errors import StageInputError
from raycurator.stages.base import ProcessingStage, RayStageSpecKeys
from raycurator.tasks import DocumentBatch


def hash_partition_ids(table: pa.Table, key_columns: list[str], num_partitions: int) -> np.ndarray:
    """A stable partition index in [0, num_partitions) for every row, from its key columns."""
    if table.num_rows == 0:
        return np.zeros(0, dtype=np.int64)
    frame = table.select(key_columns).to_pandas()
    hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64)
    return (hashes % np.uint64(num_partitions)).astype(np.int64)


class ShuffleStage(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Hash-repartition documents by `key_columns` into `num_partitions` balanced tables.

    Subclasses may override `reduce_table` to act on each complete partition (all rows
    sharing a key meet in the same partition), e.g. to keep one document per hash.
    """

    _name = "ShuffleStage"

    def __init__(
        self,
        key_columns: str | list[str] | None = None,
        num_partitions: int | None = None,
        *,
        shuffle_on: list[str] | None = None,
        total_nparts: int | None = None,
    ) -> None:
        """`shuffle_on` / `total_nparts` are NeMo Curator 1.4's names of `key_columns` / `num_partitions`."""
        if shuffle_on is not None:
            if key_columns is not None:
                raise ValueError("ShuffleStage: give key_columns or shuffle_on, not both")
            key_columns = shuffle_on
        if total_nparts is not None:
            if num_partitions is not None:
                raise ValueError("ShuffleStage: give num_partitions or total_nparts, not both")
            num_partitions = total_nparts
        if key_columns is None:
            raise ValueError("ShuffleStage needs key columns (key_columns or shuffle_on)")
        self.key_columns = [key_columns] if isinstance(key_columns, str) else list(key_columns)
        if not self.key_columns:
            raise ValueError("ShuffleStage needs at least one key column")
        if num_partitions is not None and num_partitions < 1:
            raise ValueError(f"ShuffleStage num_partitions must be >= 1, got {num_partitions}")
        self.num_partitions = num_partitions

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], list(self.key_columns)

    def ray_stage_spec(self) -> dict[str, object]:
        return {RayStageSpecKeys.IS_BARRIER: True}

    def resolve_num_partitions(self, num_inputs: int) -> int:
        """Output partition count: the configured one, or one per input task."""
        return self.num_partitions or max(1, num_inputs)

    # -- the two halves ---------------------------------------------------------------------
    def partition(self, task: DocumentBatch, num_partitions: int) -> list[pa.Table]:
        """Map side: split one input into `num_partitions` tables (some may be empty)."""
        self.validate_input(task)
        table = task.to_pyarrow()
        ids = hash_partition_ids(table, self.key_columns, num_partitions)
        order = np.argsort(ids, kind="stable")
        bounds = np.searchsorted(ids[order], np.arange(num_partitions + 1))
        sorted_table = table.take(pa.array(order))
        return [sorted_table.slice(bounds[i], bounds[i + 1] - bounds[i]) for i in range(num_partitions)]

    def merge(self, partition_index: int, tables: list[pa.Table], dataset_name: str) -> DocumentBatch | None:
        """Reduce side: one output task from every input's piece of partition `partition_index`."""
        non_empty = [t for t in tables if t.num_rows]
        if not non_empty:
            return None
        table = pa.concat_tables(non_empty, promote_options="default")
        table = self.reduce_table(partition_index, table)
        if table is None or table.num_rows == 0:
            return None
        return DocumentBatch(
            task_id=f"{self.name}-partition-{partition_index:05d}",
            dataset_name=dataset_name,
            data=table,
        )

    def reduce_table(self, partition_index: int, table: pa.Table) -> pa.Table | None:
        """Hook on a complete partition; the default returns it unchanged."""
        return table

    # -- barrier fallback for backends without a shuffle operator ---------------------------------
    def process(self, task: DocumentBatch) -> DocumentBatch | list[DocumentBatch] | None:
        return self.process_batch([task]) or None

    def process_batch(self, tasks: list[DocumentBatch]) -> list[DocumentBatch]:
        if not tasks:
            return []
        for task in tasks:
            if not isinstance(task, DocumentBatch):
                raise StageInputError(
                    f"stage '{self.name}' shuffles DocumentBatch tasks; got {type(task).__name__} '{task.task_id}'"
                )
        n = self.resolve_num_partitions(len(tasks))
        pieces = [self.partition(task, n) for task in tasks]
        dataset_name = tasks[0].dataset_name
        outputs = []
        for index in range(n):
            merged = self.merge(index, [p[index] for p in pieces], dataset_name)
            if merged is not None:
                outputs.append(merged)
        return outputs
