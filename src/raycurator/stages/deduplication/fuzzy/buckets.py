"""The bucket shuffle: all members of an LSH bucket meet, and become candidate pairs."""

from __future__ import annotations

import logging

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from raycurator.stages.deduplication.common import CURATOR_DEDUP_ID_STR
from raycurator.stages.deduplication.fuzzy.rows import (
    BUCKET_FIELD,
    KIND_BUCKET,
    KIND_DOCUMENT,
    KIND_PAIR,
    PAIR_ID_FIELD,
    ROW_KIND_FIELD,
    SHUFFLE_KEY_FIELD,
    kind_column,
    kind_mask,
    null_column,
    rows_of_kind,
)
from raycurator.stages.shuffle import ShuffleStage

logger = logging.getLogger(__name__)


def sorted_unique(values: pa.ChunkedArray | pa.Array) -> pa.Array:
    """The distinct values, ascending."""
    unique = pc.unique(values)
    if isinstance(unique, pa.ChunkedArray):
        unique = unique.combine_chunks()
    return unique.take(pc.sort_indices(unique))


def bucket_pair_positions(
    sizes: np.ndarray, starts: np.ndarray, all_pairs_max_size: int, num_anchors: int
) -> tuple[np.ndarray, np.ndarray]:
    """Row positions (left, right) of the candidate pairs of buckets laid out contiguously.

    A bucket of `k <= all_pairs_max_size` members yields all its k(k-1)/2 pairs; a larger one
    pairs each of its first `num_anchors` members with every later member (keeping the pair
    count linear in the bucket size while still connecting every member).
    """
    lefts: list[np.ndarray] = []
    rights: list[np.ndarray] = []
    small = (sizes >= 2) & (sizes <= all_pairs_max_size)
    for k in np.unique(sizes[small]):
        first = starts[small & (sizes == k)]
        i, j = np.triu_indices(int(k), 1)
        lefts.append((first[:, None] + i[None, :]).reshape(-1))
        rights.append((first[:, None] + j[None, :]).reshape(-1))
    large = sizes > all_pairs_max_size
    for start, size in zip(starts[large], sizes[large], strict=True):
        for anchor in range(min(num_anchors, int(size) - 1)):
            others = np.arange(start + anchor + 1, start + size)
            lefts.append(np.full(len(others), start + anchor))
            rights.append(others)
    if not lefts:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    return np.concatenate(lefts).astype(np.int64), np.concatenate(rights).astype(np.int64)


def buckets_to_pairs(
    buckets: pa.Table, id_field: str, all_pairs_max_size: int = 16, num_anchors: int = 2
) -> pa.Table:
    """Distinct candidate pairs `(id_field = left, _pair_id = right)`, left < right, from bucket rows."""
    ids = buckets.column(id_field)
    if buckets.num_rows < 2:
        return pa.table({id_field: ids.slice(0, 0), PAIR_ID_FIELD: ids.slice(0, 0)})
    universe = sorted_unique(ids)
    rank = pc.index_in(ids, value_set=universe).to_numpy(zero_copy_only=False).astype(np.int64)
    bucket = buckets.column(BUCKET_FIELD).to_numpy().astype(np.uint64, copy=False)
    order = np.lexsort((rank, bucket))
    bucket, rank = bucket[order], rank[order]
    starts_mask = np.ones(len(bucket), dtype=bool)
    starts_mask[1:] = bucket[1:] != bucket[:-1]
    starts = np.flatnonzero(starts_mask)
    sizes = np.diff(np.append(starts, len(bucket)))
    left_pos, right_pos = bucket_pair_positions(sizes, starts, all_pairs_max_size, num_anchors)
    left, right = rank[left_pos], rank[right_pos]
    distinct = left != right  # equal ranks only when one id sits twice in a bucket
    key = np.unique(left[distinct] * np.int64(len(universe)) + right[distinct])
    left, right = key // len(universe), key % len(universe)
    return pa.table({id_field: universe.take(pa.array(left)), PAIR_ID_FIELD: universe.take(pa.array(right))})


class BucketsToCandidatePairs(ShuffleStage):
    """Shuffle bucket rows by bucket id and emit the distinct candidate pairs of each partition.

    Document rows (present when pairs are to be verified) pass through unchanged, spread by
    the hash of their id. Output rows: `(id_field = left, _pair_id = right)` of kind pair,
    plus the document rows `(id_field, text_field)`.
    """

    _name = "BucketsToCandidatePairs"

    def __init__(
        self,
        id_field: str = CURATOR_DEDUP_ID_STR,
        text_field: str | None = None,
        all_pairs_max_size: int = 16,
        num_anchors: int = 2,
        num_partitions: int | None = None,
    ) -> None:
        super().__init__(SHUFFLE_KEY_FIELD, num_partitions=num_partitions)
        if all_pairs_max_size < 2 or num_anchors < 1:
            raise ValueError("all_pairs_max_size must be >= 2 and num_anchors >= 1")
        self.id_field = id_field
        self.text_field = text_field
        self.all_pairs_max_size = all_pairs_max_size
        self.num_anchors = num_anchors

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [SHUFFLE_KEY_FIELD, ROW_KIND_FIELD, self.id_field, BUCKET_FIELD]

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [ROW_KIND_FIELD, self.id_field, PAIR_ID_FIELD]

    def reduce_table(self, partition_index: int, table: pa.Table) -> pa.Table | None:
        buckets = rows_of_kind(table, KIND_BUCKET, [self.id_field, BUCKET_FIELD])
        pairs = buckets_to_pairs(buckets, self.id_field, self.all_pairs_max_size, self.num_anchors)
        id_type = table.schema.field(self.id_field).type
        columns = {
            ROW_KIND_FIELD: kind_column(KIND_PAIR, pairs.num_rows),
            self.id_field: pairs.column(self.id_field).cast(id_type),
            PAIR_ID_FIELD: pairs.column(PAIR_ID_FIELD).cast(id_type),
        }
        if self.text_field:
            columns[self.text_field] = null_column(table.schema.field(self.text_field).type, pairs.num_rows)
        out = pa.table(columns)
        if self.text_field:
            documents = table.filter(kind_mask(table, KIND_DOCUMENT))
            if documents.num_rows:
                documents = pa.table(
                    {
                        ROW_KIND_FIELD: documents.column(ROW_KIND_FIELD),
                        self.id_field: documents.column(self.id_field),
                        PAIR_ID_FIELD: null_column(id_type, documents.num_rows),
                        self.text_field: documents.column(self.text_field),
                    }
                )
                out = pa.concat_tables([documents, out.cast(documents.schema)])
        logger.debug(
            "stage '%s' partition %d: %d bucket rows -> %d candidate pairs",
            self.name, partition_index, buckets.num_rows, pairs.num_rows,
        )
        return out if out.num_rows else None
