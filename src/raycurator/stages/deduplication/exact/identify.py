"""Exact-duplicate identification: shuffle by text hash, keep the smallest id of each hash."""

from __future__ import annotations

import logging

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from raycurator.errors import StageInputError
from raycurator.stages.deduplication.common import CURATOR_DEDUP_ID_STR, DUPLICATE_OF_FIELD, write_ids_file
from raycurator.stages.deduplication.exact.hashing import EXACT_HASH_FIELD
from raycurator.stages.shuffle import ShuffleStage
from raycurator.tasks import Task

logger = logging.getLogger(__name__)


def run_starts(sorted_keys: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Boolean mask, True where a row starts a new run of equal keys (keys already sorted)."""
    n = len(sorted_keys)
    starts = np.ones(n, dtype=bool)
    if n > 1:
        same = pc.equal(sorted_keys[1:], sorted_keys[:-1])
        starts[1:] = ~np.asarray(same.to_numpy(zero_copy_only=False), dtype=bool)
    return starts


def duplicates_by_key(table: pa.Table, key_field: str, id_field: str) -> pa.Table:
    """For rows sharing `key_field`, every row but the one of smallest id, with the kept id.

    Returns a table of `id_field` (the duplicate) and `_duplicate_of` (the kept document),
    sorted by id. Raises `StageInputError` when one id appears twice under the same key.
    """
    order = pc.sort_indices(table, sort_keys=[(key_field, "ascending"), (id_field, "ascending")])
    keys = table.column(key_field).take(order)
    ids = table.column(id_field).take(order)
    starts = run_starts(keys)
    if starts.all():
        return pa.table({id_field: ids.slice(0, 0), DUPLICATE_OF_FIELD: ids.slice(0, 0)})
    run_index = np.cumsum(starts) - 1
    first_of_run = np.flatnonzero(starts)[run_index]
    dup_rows = np.flatnonzero(~starts)
    dup_ids = ids.take(pa.array(dup_rows))
    kept_ids = ids.take(pa.array(first_of_run[dup_rows]))
    same_id = pc.equal(dup_ids, kept_ids)
    if pc.any(same_id).as_py():
        example = dup_ids.filter(same_id)[0].as_py()
        raise StageInputError(
            f"document id {example!r} appears more than once; deduplication needs unique ids "
            f"in '{id_field}' (leave id_field unset to have ids assigned)"
        )
    result = pa.table({id_field: dup_ids, DUPLICATE_OF_FIELD: kept_ids})
    return result.take(pc.sort_indices(result, sort_keys=[(id_field, "ascending")]))


class ExactDuplicateIdsStage(ShuffleStage):
    """Shuffle (id, hash) rows by hash; each output partition lists its duplicate documents.

    Of the documents sharing a hash, the one with the smallest id is kept (a deterministic
    choice); every other one is emitted as a row `(id_field, _duplicate_of)`. Partitions
    without duplicates produce no task. With `output_path`, each partition's rows are written
    there as ``part-<partition>.parquet`` (no writer stage needed after this one) and the
    partition's output is the `FileGroupTask` naming that file.
    """

    _name = "ExactDuplicateIdsStage"  # NeMo Curator's ExactDuplicateIdentification: exact.identification

    def __init__(
        self,
        id_field: str = CURATOR_DEDUP_ID_STR,
        hash_field: str = EXACT_HASH_FIELD,
        num_partitions: int | None = None,
        *,
        output_path: str | None = None,
    ) -> None:
        super().__init__(hash_field, num_partitions=num_partitions)
        self.id_field = id_field
        self.hash_field = hash_field
        self.output_path = output_path

    def merge(self, partition_index: int, tables: list[pa.Table], dataset_name: str) -> Task | None:
        merged = super().merge(partition_index, tables, dataset_name)
        if merged is None or not self.output_path:
            return merged
        return write_ids_file(
            merged.to_pyarrow(), self.output_path, f"part-{partition_index:05d}.parquet", dataset_name, merged.task_id
        )

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [self.hash_field, self.id_field]

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [self.id_field, DUPLICATE_OF_FIELD]

    def reduce_table(self, partition_index: int, table: pa.Table) -> pa.Table | None:
        try:
            duplicates = duplicates_by_key(table, self.hash_field, self.id_field)
        except StageInputError as error:
            raise StageInputError(f"stage '{self.name}', partition {partition_index}: {error}") from error
        logger.debug(
            "stage '%s' partition %d: %d rows, %d duplicates",
            self.name, partition_index, table.num_rows, duplicates.num_rows,
        )
        return duplicates if duplicates.num_rows else None
