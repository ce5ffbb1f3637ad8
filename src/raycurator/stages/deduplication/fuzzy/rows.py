"""The row kinds that travel together through the fuzzy-dedup shuffles, and their columns.

The LSH stage emits bucket rows (and, when candidate pairs are to be verified, document rows
carrying the text). The bucket shuffle turns buckets into candidate-pair rows and passes the
document rows on; the two verification shuffles join each pair with the texts of its two
documents. One table holds rows of several kinds, told apart by `ROW_KIND_FIELD`; columns a
kind does not use are null.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ROW_KIND_FIELD = "_fuzzy_row_kind"
SHUFFLE_KEY_FIELD = "_fuzzy_shuffle_key"
BUCKET_FIELD = "_bucket_id"
PAIR_ID_FIELD = "_pair_id"
PAIR_TEXT_FIELD = "_pair_text"
JACCARD_FIELD = "_jaccard"

KIND_DOCUMENT = 0  #: (id, text): a document's text, for verification
KIND_BUCKET = 1  #: (id, bucket): the document fell into this LSH bucket
KIND_PAIR = 2  #: (id = left, pair id = right): a candidate (or verified) duplicate pair, left < right
KIND_PAIR_WITH_TEXT = 3  #: (id = right, pair id = left, pair text = left's text)


def kind_mask(table: pa.Table, kind: int) -> pa.ChunkedArray | pa.Array:
    """Boolean mask of the rows of `kind` (every row when the table has no kind column)."""
    if ROW_KIND_FIELD not in table.column_names:
        return pa.array(np.ones(table.num_rows, dtype=bool))
    return pc.equal(table.column(ROW_KIND_FIELD), pa.scalar(kind, type=pa.int8()))


def rows_of_kind(table: pa.Table, kind: int, columns: list[str]) -> pa.Table:
    """The rows of `kind`, restricted to `columns`."""
    return table.filter(kind_mask(table, kind)).select(columns)


def kind_column(kind: int, n: int) -> pa.Array:
    """A row-kind column of `n` rows of `kind`."""
    return pa.array(np.full(n, kind, dtype=np.int8), type=pa.int8())


def id_hashes(ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A stable uint64 hash of every id (used as the shuffle key of document rows)."""
    import pandas as pd  # only the verification path needs it; MinHash/LSH workers skip the import

    values = ids.to_numpy(zero_copy_only=False) if not isinstance(ids, np.ndarray) else ids
    return pd.util.hash_array(np.asarray(values, dtype=object)).astype(np.uint64)


def null_column(type_: pa.DataType, n: int) -> pa.Array:
    """`n` nulls of `type_`."""
    return pa.nulls(n, type=type_)
