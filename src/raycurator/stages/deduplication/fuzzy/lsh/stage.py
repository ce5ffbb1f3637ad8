"""LSH banding: bands x rows from a Jaccard threshold, and bucket ids per band.

A signature of `num_bands * minhashes_per_band` values is cut into bands; two documents land
in the same bucket of a band when all the band's values are equal, which happens with
probability `s**rows` for Jaccard similarity `s`. They become candidates when they share at
least one bucket: probability `1 - (1 - s**rows)**bands`.
"""

from __future__ import annotations

import logging
from functools import lru_cache

import numpy as np
import pyarrow as pa

from raycurator.stages.base import ProcessingStage
from raycurator.stages.deduplication.common import CURATOR_DEDUP_ID_STR, require_columns, table_of, with_batch
from raycurator.stages.deduplication.fuzzy.minhash import (
    EMPTY_SIGNATURE_VALUE,
    MINHASH_FIELD,
    signatures_from_arrow,
)
from raycurator.stages.deduplication.fuzzy.rows import (
    BUCKET_FIELD,
    KIND_BUCKET,
    KIND_DOCUMENT,
    ROW_KIND_FIELD,
    SHUFFLE_KEY_FIELD,
    id_hashes,
    kind_column,
    null_column,
)
from raycurator.stages.deduplication.fuzzy.shingles import mix64
from raycurator.tasks import DocumentBatch

logger = logging.getLogger(__name__)


def candidate_probability(similarity: float | np.ndarray, bands: int, rows: int) -> float | np.ndarray:
    """Probability that two documents of Jaccard `similarity` share at least one bucket."""
    return 1.0 - (1.0 - np.power(similarity, rows)) ** bands


@lru_cache(maxsize=256)
def optimal_param(
    threshold: float,
    num_perm: int,
    false_positive_weight: float = 0.5,
    false_negative_weight: float = 0.5,
) -> tuple[int, int]:
    """(bands, rows) with bands * rows <= num_perm minimising the weighted error areas.

    The false-positive area is the candidate probability integrated over similarities below
    `threshold`; the false-negative area is the miss probability integrated above it.
    """
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must lie in (0, 1), got {threshold}")
    if num_perm < 1:
        raise ValueError(f"num_perm must be >= 1, got {num_perm}")
    low = np.linspace(0.0, threshold, 513)
    high = np.linspace(threshold, 1.0, 513)
    best: tuple[float, int, int] | None = None
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            fp = np.trapezoid(candidate_probability(low, bands, rows), low)
            fn = np.trapezoid(1.0 - candidate_probability(high, bands, rows), high)
            error = false_positive_weight * fp + false_negative_weight * fn
            if best is None or error < best[0] - 1e-15:
                best = (error, bands, rows)
    assert best is not None
    return best[1], best[2]


def resolve_lsh_params(
    num_bands: int | None = None,
    minhashes_per_band: int | None = None,
    num_perm: int | None = None,
    threshold: float | None = None,
) -> tuple[int, int]:
    """(bands, rows): both given, or one given with `num_perm`, or chosen from `threshold`.

    With `threshold` and `num_perm` and neither bands nor rows, `optimal_param` picks them.
    """
    if num_bands is not None and minhashes_per_band is not None:
        bands, rows = int(num_bands), int(minhashes_per_band)
        if num_perm is not None and bands * rows != num_perm:
            raise ValueError(
                f"num_bands * minhashes_per_band = {bands * rows} differs from num_perm={num_perm}"
            )
    elif num_perm is not None and num_bands is not None:
        bands, rows = int(num_bands), int(num_perm) // int(num_bands)
    elif num_perm is not None and minhashes_per_band is not None:
        bands, rows = int(num_perm) // int(minhashes_per_band), int(minhashes_per_band)
    elif num_perm is not None and threshold is not None:
        bands, rows = optimal_param(float(threshold), int(num_perm))
    else:
        raise ValueError(
            "give num_bands and minhashes_per_band, or num_perm with one of them, or num_perm and threshold"
        )
    if bands < 1 or rows < 1:
        raise ValueError(f"LSH needs at least one band of at least one row; got bands={bands}, rows={rows}")
    return bands, rows


def band_bucket_ids(signatures: np.ndarray, num_bands: int, minhashes_per_band: int) -> np.ndarray:
    """A (n, num_bands) uint64 bucket id per document and band (the band index is mixed in)."""
    n = signatures.shape[0]
    needed = num_bands * minhashes_per_band
    if signatures.shape[1] < needed:
        raise ValueError(
            f"signatures have {signatures.shape[1]} values; {num_bands} bands x {minhashes_per_band} rows "
            f"need {needed}"
        )
    bands = signatures[:, :needed].reshape(n, num_bands, minhashes_per_band).astype(np.uint64)
    acc = np.broadcast_to(
        mix64(np.arange(1, num_bands + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)), (n, num_bands)
    ).copy()
    for row in range(minhashes_per_band):
        acc = mix64(acc ^ bands[:, :, row])
    return acc


class LSHStage(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Turn MinHash signatures into one bucket row per document and band.

    Output rows: `(id_field, _bucket_id)` of kind bucket, keyed for the bucket shuffle. With
    `text_field` set, every document with shingles is also emitted once as a document row
    `(id_field, text_field)` so the verification shuffles further on find its text.
    Documents without shingles (empty texts) fall in no bucket.
    """

    _name = "LSHStage"

    def __init__(
        self,
        num_bands: int = 20,
        minhashes_per_band: int = 13,
        id_field: str = CURATOR_DEDUP_ID_STR,
        minhash_field: str = MINHASH_FIELD,
        text_field: str | None = None,
    ) -> None:
        self.num_bands, self.minhashes_per_band = resolve_lsh_params(num_bands, minhashes_per_band)
        self.id_field = id_field
        self.minhash_field = minhash_field
        self.text_field = text_field

    def inputs(self) -> tuple[list[str], list[str]]:
        columns = [self.id_field, self.minhash_field]
        return ["data"], [*columns, self.text_field] if self.text_field else columns

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [ROW_KIND_FIELD, SHUFFLE_KEY_FIELD, self.id_field, BUCKET_FIELD]

    def process(self, task: DocumentBatch) -> DocumentBatch | None:
        table = table_of(task, self.name)
        require_columns(table, self.inputs()[1], self.name, task)
        signature_type = table.schema.field(self.minhash_field).type
        width = self.num_bands * self.minhashes_per_band
        if pa.types.is_fixed_size_list(signature_type):
            width = signature_type.list_size
        signatures = signatures_from_arrow(table.column(self.minhash_field), width)
        has_shingles = ~np.all(signatures == EMPTY_SIGNATURE_VALUE, axis=1)
        if not has_shingles.all():
            keep = pa.array(has_shingles)
            table = table.filter(keep)
            signatures = signatures[has_shingles]
        n = table.num_rows
        if n == 0:
            return None
        buckets = band_bucket_ids(signatures, self.num_bands, self.minhashes_per_band).reshape(-1)
        ids = table.column(self.id_field)
        member_ids = ids.take(pa.array(np.repeat(np.arange(n, dtype=np.int64), self.num_bands)))
        text_type = table.schema.field(self.text_field).type if self.text_field else None
        bucket_columns = {
            ROW_KIND_FIELD: kind_column(KIND_BUCKET, len(buckets)),
            SHUFFLE_KEY_FIELD: pa.array(buckets, type=pa.uint64()),
            self.id_field: member_ids,
            BUCKET_FIELD: pa.array(buckets, type=pa.uint64()),
        }
        if self.text_field:
            bucket_columns[self.text_field] = null_column(text_type, len(buckets))
        out = pa.table(bucket_columns)
        if self.text_field:
            documents = pa.table(
                {
                    ROW_KIND_FIELD: kind_column(KIND_DOCUMENT, n),
                    SHUFFLE_KEY_FIELD: pa.array(id_hashes(ids), type=pa.uint64()),
                    self.id_field: ids,
                    BUCKET_FIELD: null_column(pa.uint64(), n),
                    self.text_field: table.column(self.text_field),
                }
            )
            out = pa.concat_tables([documents, out.cast(documents.schema)])
        self._log_metrics({"num_documents": n, "num_bucket_rows": len(buckets)})
        return with_batch(task, out)
