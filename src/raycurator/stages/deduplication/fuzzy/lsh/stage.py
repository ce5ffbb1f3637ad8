"""LSH banding: bands x rows from a Jaccard threshold, and bucket ids per band.

A signature of `num_bands * minhashes_per_band` values is cut into bands; two documents land
in the same bucket of a band when all the band's values are equal, which happens with
probability `s**rows` for Jaccard similarity `s`. They become candidates when they share at
least one bucket: probability `1 - (1 - s**rows)**bands`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from raycurator.stages.base import ProcessingStage, RayStageSpecKeys
from raycurator.stages.deduplication.common import CURATOR_DEDUP_ID_STR, require_columns, table_of, with_batch
from raycurator.stages.deduplication.files import (
    create_or_overwrite_dir,
    file_group_of,
    join_path,
    read_files,
    storage_options_of,
    write_parquet_atomic,
)
from raycurator.stages.deduplication.fuzzy.minhash import (
    MINHASH_FIELD,
    has_shingles,
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
from raycurator.tasks import DocumentBatch, FileGroupTask

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


def band_bucket_ids(
    signatures: np.ndarray, num_bands: int, minhashes_per_band: int, first_band: int = 0
) -> np.ndarray:
    """A (n, num_bands) uint64 bucket id per document and band (the band index is mixed in).

    With `first_band`, the bands are `first_band .. first_band + num_bands - 1` of the signature
    (the same ids as those columns of the call over all bands).
    """
    n = signatures.shape[0]
    start = first_band * minhashes_per_band
    needed = start + num_bands * minhashes_per_band
    if signatures.shape[1] < needed:
        raise ValueError(
            f"signatures have {signatures.shape[1]} values; bands {first_band}..{first_band + num_bands - 1} "
            f"x {minhashes_per_band} rows need {needed}"
        )
    bands = signatures[:, start:needed].reshape(n, num_bands, minhashes_per_band).astype(np.uint64)
    band_index = np.arange(first_band + 1, first_band + num_bands + 1, dtype=np.uint64)
    acc = np.broadcast_to(mix64(band_index * np.uint64(0x9E3779B97F4A7C15)), (n, num_bands)).copy()
    for row in range(minhashes_per_band):
        acc = mix64(acc ^ bands[:, :, row])
    return acc


class InMemoryLSHStage(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Turn MinHash signatures into one bucket row per document and band.

    Output rows: `(id_field, _bucket_id)` of kind bucket, keyed for the bucket shuffle. With
    `text_field` set, every document with shingles is also emitted once as a document row
    `(id_field, text_field)` so the verification shuffles further on find its text.
    Documents without shingles (empty texts) fall in no bucket.
    """

    _name = "InMemoryLSHStage"

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
        usable = has_shingles(signatures)
        if not usable.all():
            table = table.filter(pa.array(usable))
            signatures = signatures[usable]
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


def group_buckets(ids: pa.Array, buckets: np.ndarray, bands: np.ndarray, id_field: str) -> pa.Table:
    """Buckets shared by two or more documents: `_bucket_id` ("b<band>_<hex>") and the sorted ids in it."""
    if len(ids) == 0:
        return pa.table({BUCKET_FIELD: pa.array([], pa.string()), id_field: pa.array([], pa.list_(ids.type))})
    keys = pa.table({"bucket": pa.array(buckets, pa.uint64()), "id": ids})
    order = pc.sort_indices(keys, sort_keys=[("bucket", "ascending"), ("id", "ascending")]).to_numpy()
    sorted_buckets = buckets[order]
    starts = np.flatnonzero(np.r_[True, sorted_buckets[1:] != sorted_buckets[:-1]])
    sizes = np.diff(np.append(starts, len(sorted_buckets)))
    shared = sizes >= 2
    starts, sizes = starts[shared], sizes[shared]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    members = np.arange(offsets[-1]) - np.repeat(offsets[:-1], sizes) + np.repeat(starts, sizes)
    member_ids = ids.take(pa.array(order[members]))
    first_bands, first_buckets = bands[order[starts]], sorted_buckets[starts]
    names = [f"b{band}_{bucket:016x}" for band, bucket in zip(first_bands, first_buckets, strict=True)]
    return pa.table(
        {
            BUCKET_FIELD: pa.array(names, pa.string()),
            id_field: pa.LargeListArray.from_arrays(pa.array(offsets), member_ids).cast(pa.list_(ids.type)),
        }
    )


class LSHStage(ProcessingStage[FileGroupTask, FileGroupTask]):
    """NeMo Curator 1.4's `LSHStage` on CPUs: MinHash signature files in, LSH bucket files out.

    A barrier: every input `FileGroupTask` (Parquet files with `id_field` and `minhash_field`,
    as `MinHashStage` writes them) is read once per range of `bands_per_iteration` bands. Each
    band of `minhashes_per_band` values gives every document a bucket (the hashing of
    `InMemoryLSHStage`; documents without shingles get none); buckets are spread over
    `total_nparts` partitions (None: the largest power of 2 not above the number of input
    tasks, as NeMo Curator does), and each partition is written as
    ``<output_path>/LSHStage/band_<a>-band_<b>/part.<p>.parquet`` with `_bucket_id` and the
    sorted list of the ids in the bucket, for buckets of two or more documents. One output
    `FileGroupTask` per band range and partition, with `partition_index`, `total_partitions`,
    `num_docs` (buckets written) and `output_columns`. `bands_per_iteration` bounds the memory
    as in NeMo Curator; the GPU tuning parameters have no effect.
    """

    _name = "LSHStage"

    def __init__(
        self,
        num_bands: int,
        minhashes_per_band: int,
        id_field: str = CURATOR_DEDUP_ID_STR,
        minhash_field: str = MINHASH_FIELD,
        output_path: str = "./",
        read_kwargs: dict[str, Any] | None = None,
        write_kwargs: dict[str, Any] | None = None,
        rmm_pool_size: int | Literal["auto"] | None = "auto",
        spill_memory_limit: int | Literal["auto"] | None = "auto",
        enable_statistics: bool = False,
        bands_per_iteration: int = 5,
        total_nparts: int | None = None,
        use_async_memory: bool = True,
    ) -> None:
        self.num_bands, self.minhashes_per_band = resolve_lsh_params(num_bands, minhashes_per_band)
        if not 1 <= bands_per_iteration <= self.num_bands:
            raise ValueError(
                f"Invalid bands_per_iteration: {bands_per_iteration}, must be in range [1, {self.num_bands}]"
            )
        if total_nparts is not None and total_nparts < 1:
            raise ValueError(f"LSHStage: total_nparts must be >= 1, got {total_nparts}")
        self.read_kwargs = dict(read_kwargs or {})
        if self.read_kwargs.get("columns") is not None:
            raise ValueError("LSHStage: columns cannot be set in read_kwargs (the stage reads the id and signature)")
        self.id_field = id_field
        self.minhash_field = minhash_field
        self.write_kwargs = dict(write_kwargs or {})
        self.rmm_pool_size = rmm_pool_size
        self.spill_memory_limit = spill_memory_limit
        self.enable_statistics = enable_statistics
        self.bands_per_iteration = bands_per_iteration
        self.total_nparts = total_nparts
        self.use_async_memory = use_async_memory
        storage_options = storage_options_of(self.write_kwargs)
        base = join_path(output_path, self._name)
        create_or_overwrite_dir(base, storage_options)
        self.output_paths: list[str] = []
        for first, last in self.get_band_iterations():
            folder = join_path(base, f"band_{first}-band_{last}")
            create_or_overwrite_dir(folder, storage_options)
            self.output_paths.append(folder)

    def get_band_iterations(self) -> Iterator[tuple[int, int]]:
        """The (first, end) band ranges processed one after the other."""
        for first in range(0, self.num_bands, self.bands_per_iteration):
            yield first, min(first + self.bands_per_iteration, self.num_bands)

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], []

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], []

    def ray_stage_spec(self) -> dict[str, Any]:
        return {RayStageSpecKeys.IS_BARRIER: True}

    def process(self, task: FileGroupTask) -> list[FileGroupTask]:
        return self.process_batch([task])

    def _bucket_rows(self, task: FileGroupTask, first: int, end: int) -> tuple[pa.Array, np.ndarray, np.ndarray]:
        """(ids, bucket, band) of every document of `task` and band in [first, end)."""
        table = read_files(task, self.name, "parquet", [self.id_field, self.minhash_field], self.read_kwargs)
        column = table.column(self.minhash_field)
        if table.num_rows == 0:
            return table.column(self.id_field).combine_chunks(), np.empty(0, np.uint64), np.empty(0, np.int64)
        lengths = pc.list_value_length(column)
        width = pc.min(lengths).as_py()
        if width != pc.max(lengths).as_py():
            raise ValueError(f"stage '{self.name}': task '{task.task_id}': signatures of different lengths")
        signatures = signatures_from_arrow(column, width)
        keep = has_shingles(signatures)
        ids = table.column(self.id_field).combine_chunks().filter(pa.array(keep))
        buckets = band_bucket_ids(signatures[keep], end - first, self.minhashes_per_band, first_band=first)
        n = len(ids)
        return (
            ids.take(pa.array(np.repeat(np.arange(n), end - first))),
            buckets.reshape(-1),
            np.tile(np.arange(first, end), n),
        )

    def process_batch(self, tasks: list[FileGroupTask]) -> list[FileGroupTask]:
        if not tasks:
            return []
        tasks = [file_group_of(task, self.name) for task in tasks]
        nparts = self.total_nparts or max(1, 2 ** math.floor(math.log2(len(tasks))))
        dataset_name = f"{tasks[0].dataset_name}{self.name}"
        kwargs = dict(self.write_kwargs)
        storage_options = kwargs.pop("storage_options", None)
        outputs: list[FileGroupTask] = []
        for (first, end), folder in zip(self.get_band_iterations(), self.output_paths, strict=True):
            rows = [self._bucket_rows(task, first, end) for task in tasks]
            ids = pa.concat_arrays([r[0] for r in rows])
            buckets = np.concatenate([r[1] for r in rows])
            bands = np.concatenate([r[2] for r in rows])
            partition = (buckets % np.uint64(nparts)).astype(np.int64)
            for index in range(nparts):
                selected = np.flatnonzero(partition == index)
                grouped = group_buckets(ids.take(pa.array(selected)), buckets[selected], bands[selected], self.id_field)
                path = join_path(folder, f"part.{index}.parquet")
                write_parquet_atomic(grouped, path, storage_options, **kwargs)
                self._log_metric("num_buckets", grouped.num_rows)
                outputs.append(
                    FileGroupTask(
                        task_id=f"{self.name}-band_{first}-band_{end}-part-{index:05d}",
                        dataset_name=dataset_name,
                        data=[path],
                        _metadata={
                            "partition_index": index,
                            "total_partitions": nparts,
                            "num_docs": grouped.num_rows,
                            "output_columns": [self.id_field, BUCKET_FIELD],
                        },
                    )
                )
        logger.info("stage '%s': %d bucket file(s) over %d partition(s)", self.name, len(outputs), nparts)
        return outputs
