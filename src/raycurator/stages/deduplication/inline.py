"""Deduplication inside one pipeline: documents in, documents out (used by the demo and YAML files).

The deduplication workflows (`ExactDeduplicationWorkflow`, `FuzzyDeduplicationWorkflow`) make
two passes over files: identify duplicate ids, then read everything again and remove them.
These composites do it in the document stream of a single pipeline, built from the same parts:

- `ExactDuplicateFilter` = `ExactDuplicateHashStage` (all columns kept) -> `ExactDuplicateShuffle`,
  a shuffle by hash whose reduce side keeps the smallest id of each hash: one pass, distributed.
- `FuzzyDuplicateFilter` = `InMemoryMinHashStage` (all columns kept) -> `FuzzyBandsStage` (LSH bucket
  ids per band, replacing the signature; both map stages run in parallel) ->
  `FuzzyDuplicateBarrier`, a barrier that pairs documents sharing a bucket, verifies candidate
  pairs by character n-gram Jaccard, finds connected components, and drops every member but the
  smallest id of each. The barrier gathers all documents in one worker: right for a demo and
  datasets that fit a node's memory; use `FuzzyDeduplicationWorkflow` beyond that (it never
  gathers documents, only candidate pairs).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from raycurator.stages.base import CompositeStage, ProcessingStage, RayStageSpecKeys
from raycurator.stages.deduplication.common import require_columns, table_of, with_batch
from raycurator.stages.deduplication.exact.hashing import EXACT_HASH_FIELD, ExactDuplicateHashStage
from raycurator.stages.deduplication.exact.identify import run_starts
from raycurator.stages.deduplication.fuzzy.buckets import buckets_to_pairs
from raycurator.stages.deduplication.fuzzy.connected_components import duplicates_from_edges
from raycurator.stages.deduplication.fuzzy.lsh import band_bucket_ids, resolve_lsh_params
from raycurator.stages.deduplication.fuzzy.minhash import (
    MINHASH_FIELD,
    InMemoryMinHashStage,
    has_shingles,
    signatures_from_arrow,
)
from raycurator.stages.deduplication.fuzzy.rows import BUCKET_FIELD, PAIR_ID_FIELD
from raycurator.stages.deduplication.fuzzy.shingles import jaccard_of_sets, shingle_set
from raycurator.stages.shuffle import ShuffleStage
from raycurator.tasks import DocumentBatch

logger = logging.getLogger(__name__)

DEFAULT_ID_FIELD = "_curator_id"  # what `AddId` writes by default


class ExactDuplicateShuffle(ShuffleStage):
    """Shuffle documents by text hash; keep the smallest id of each hash, drop the hash column."""

    def __init__(
        self, id_field: str = DEFAULT_ID_FIELD, hash_field: str = EXACT_HASH_FIELD, num_partitions: int | None = None
    ) -> None:
        super().__init__(key_columns=[hash_field], num_partitions=num_partitions)
        self.id_field = id_field
        self.hash_field = hash_field
        self._name = "ExactDuplicateShuffle"

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [self.hash_field, self.id_field]

    def reduce_table(self, partition_index: int, table: pa.Table) -> pa.Table | None:
        order = pc.sort_indices(table, sort_keys=[(self.hash_field, "ascending"), (self.id_field, "ascending")])
        ordered = table.take(order)
        keep = run_starts(ordered.column(self.hash_field))
        kept = ordered.filter(pa.array(keep)) if not keep.all() else ordered
        logger.debug("stage '%s' partition %d: %d duplicate(s)", self.name, partition_index, table.num_rows - len(kept))
        return kept.drop_columns([self.hash_field])


class ExactDuplicateFilter(CompositeStage[DocumentBatch, DocumentBatch]):
    """Removes exact duplicates (same text after NFC and whitespace normalisation) in one pass.

    Keeps the document with the smallest `id_field` of each text; needs unique ids (e.g. from
    `AddId`). `num_partitions`: output partitions of the shuffle (default: one per input task).
    """

    def __init__(
        self, text_field: str = "text", id_field: str = DEFAULT_ID_FIELD, num_partitions: int | None = None
    ) -> None:
        self.text_field = text_field
        self.id_field = id_field
        self.num_partitions = num_partitions
        self._name = "ExactDuplicateFilter"

    def decompose(self) -> list[ProcessingStage]:
        return [
            ExactDuplicateHashStage(text_field=self.text_field),
            ExactDuplicateShuffle(self.id_field, EXACT_HASH_FIELD, self.num_partitions),
        ]


#: Column of a document's LSH bucket ids, one per band (null for a document without shingles).
BANDS_FIELD = "_lsh_bands"


class FuzzyBandsStage(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Map stage: each document's LSH bucket id per band, in place of its MinHash signature.

    Runs in parallel before `FuzzyDuplicateBarrier` (fused with `InMemoryMinHashStage` on the actor
    pool), so the barrier gets `num_bands` 64-bit ids per document instead of the signature
    (20 x 8 bytes instead of 260 x 4 with the defaults) and does no hashing itself.
    """

    def __init__(
        self, num_bands: int = 20, minhashes_per_band: int = 13, minhash_field: str = MINHASH_FIELD
    ) -> None:
        self.num_bands, self.minhashes_per_band = resolve_lsh_params(num_bands, minhashes_per_band)
        self.minhash_field = minhash_field
        self._name = "FuzzyBandsStage"

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [self.minhash_field]

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [BANDS_FIELD]

    def process(self, task: DocumentBatch) -> DocumentBatch:
        table = table_of(task, self.name)
        require_columns(table, [self.minhash_field], self.name, task)
        width = self.num_bands * self.minhashes_per_band
        signatures = signatures_from_arrow(table.column(self.minhash_field), width)
        usable = has_shingles(signatures)
        bands = band_bucket_ids(signatures, self.num_bands, self.minhashes_per_band)
        flat = pa.array(bands.reshape(-1), type=pa.uint64())
        column = pa.FixedSizeListArray.from_arrays(flat, self.num_bands, mask=pa.array(~usable))
        table = table.drop_columns([self.minhash_field])
        if BANDS_FIELD in table.column_names:
            table = table.drop_columns([BANDS_FIELD])
        return with_batch(task, table.append_column(BANDS_FIELD, column))


class FuzzyDuplicateBarrier(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Barrier: candidate pairs from every document's LSH bucket ids (`FuzzyBandsStage`),
    Jaccard-verified, connected components; drops all members of a component but its smallest
    id, and the bucket-id column. Only candidate documents' texts are shingled here."""

    def __init__(
        self,
        id_field: str = DEFAULT_ID_FIELD,
        text_field: str = "text",
        num_bands: int = 20,
        minhashes_per_band: int = 13,
        char_ngrams: int = 24,
        jaccard_threshold: float = 0.8,
        verify: bool = True,
        minhash_field: str = MINHASH_FIELD,
    ) -> None:
        self.num_bands, self.minhashes_per_band = resolve_lsh_params(num_bands, minhashes_per_band)
        if not 0.0 <= jaccard_threshold <= 1.0:
            raise ValueError(f"jaccard_threshold must be within [0, 1], got {jaccard_threshold}")
        self.id_field = id_field
        self.text_field = text_field
        self.char_ngrams = char_ngrams
        self.jaccard_threshold = jaccard_threshold
        self.verify = verify
        self.minhash_field = minhash_field
        self._name = "FuzzyDuplicateBarrier"

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [self.id_field, self.text_field, BANDS_FIELD]

    def ray_stage_spec(self) -> dict[str, Any]:
        return {RayStageSpecKeys.IS_BARRIER: True}

    def process(self, task: DocumentBatch) -> list[DocumentBatch]:
        return self.process_batch([task])

    def duplicate_ids(self, tables: list[pa.Table]) -> pa.Array:
        """The ids to drop: every member of a similar-document component but its smallest id."""
        ids = pa.chunked_array([c for t in tables for c in t.column(self.id_field).chunks])
        if len(ids) < 2:
            return ids.combine_chunks().slice(0, 0)
        band_column = pa.chunked_array([c for t in tables for c in t.column(BANDS_FIELD).chunks]).combine_chunks()
        if band_column.type.list_size != self.num_bands:
            raise ValueError(
                f"stage '{self.name}': {BANDS_FIELD} holds {band_column.type.list_size} bands, "
                f"expected {self.num_bands}"
            )
        rows = np.flatnonzero(~np.asarray(band_column.is_null().to_numpy(zero_copy_only=False), dtype=bool))
        buckets = band_column.take(pa.array(rows)).flatten().to_numpy(zero_copy_only=False)
        member_rows = np.repeat(rows, self.num_bands)
        bucket_table = pa.table(
            {self.id_field: ids.take(pa.array(member_rows)), BUCKET_FIELD: pa.array(buckets.reshape(-1))}
        )
        pairs = buckets_to_pairs(bucket_table, self.id_field)
        candidates = pairs.num_rows
        if self.verify and pairs.num_rows:
            texts = pa.chunked_array([c for t in tables for c in t.column(self.text_field).chunks])
            position = {value: i for i, value in enumerate(ids.to_pylist())}
            cache: dict[int, np.ndarray] = {}

            def shingles(row: int) -> np.ndarray:
                if row not in cache:
                    cache[row] = shingle_set(texts[row].as_py() or "", self.char_ngrams)
                return cache[row]

            lefts, rights = pairs.column(self.id_field).to_pylist(), pairs.column(PAIR_ID_FIELD).to_pylist()
            keep = [
                jaccard_of_sets(shingles(position[a]), shingles(position[b])) >= self.jaccard_threshold
                for a, b in zip(lefts, rights, strict=True)
            ]
            pairs = pairs.filter(pa.array(keep, type=pa.bool_()))
        duplicates = duplicates_from_edges(pairs, self.id_field).column(self.id_field)
        self._log_metrics({"candidate_pairs": candidates, "verified_pairs": pairs.num_rows})
        logger.info(
            "stage '%s': %d candidate pair(s), %d similar, %d duplicate document(s)",
            self.name,
            candidates,
            pairs.num_rows,
            len(duplicates),
        )
        return duplicates.combine_chunks() if isinstance(duplicates, pa.ChunkedArray) else duplicates

    def process_batch(self, tasks: list[DocumentBatch]) -> list[DocumentBatch]:
        tables = []
        for task in tasks:
            table = table_of(task, self.name)
            require_columns(table, [self.id_field, self.text_field, BANDS_FIELD], self.name, task)
            tables.append(table)
        duplicates = self.duplicate_ids(tables) if tables else pa.array([], type=pa.string())
        outputs: list[DocumentBatch] = []
        counts: list[int] = []
        removed = 0
        for task, table in zip(tasks, tables, strict=True):
            if len(duplicates):
                mask = pc.invert(pc.is_in(table.column(self.id_field), value_set=duplicates))
                kept = table.filter(mask)
            else:
                kept = table
            removed += table.num_rows - kept.num_rows
            kept = kept.drop_columns([BANDS_FIELD])
            if kept.num_rows:
                outputs.append(with_batch(task, kept))
            counts.append(1 if kept.num_rows else 0)
        self._log_metrics({"num_removed": removed})
        object.__setattr__(self, "_output_counts", counts)
        return outputs


class FuzzyDuplicateFilter(CompositeStage[DocumentBatch, DocumentBatch]):
    """Removes near duplicates (MinHash LSH over character n-grams, Jaccard-verified) in one pipeline.

    Keeps the smallest `id_field` of each group of similar documents; needs unique ids.
    `num_bands` x `minhashes_per_band` signature values; pairs below `jaccard_threshold` are not
    duplicates (with `verify`). Signatures and bucket ids are computed in parallel (map stages);
    the last part is a barrier holding every document, whose own work is the pairing, the
    verification of candidate pairs and the components.
    """

    def __init__(
        self,
        text_field: str = "text",
        id_field: str = DEFAULT_ID_FIELD,
        char_ngrams: int = 24,
        num_bands: int = 20,
        minhashes_per_band: int = 13,
        jaccard_threshold: float = 0.8,
        verify: bool = True,
        seed: int = 42,
    ) -> None:
        self.text_field = text_field
        self.id_field = id_field
        self.char_ngrams = char_ngrams
        self.num_bands, self.minhashes_per_band = resolve_lsh_params(num_bands, minhashes_per_band)
        self.jaccard_threshold = jaccard_threshold
        self.verify = verify
        self.seed = seed
        self._name = "FuzzyDuplicateFilter"

    def decompose(self) -> list[ProcessingStage]:
        return [
            InMemoryMinHashStage(
                text_field=self.text_field,
                id_field=self.id_field,
                char_ngrams=self.char_ngrams,
                num_perm=self.num_bands * self.minhashes_per_band,
                seed=self.seed,
                keep_columns=True,
            ),
            FuzzyBandsStage(self.num_bands, self.minhashes_per_band),
            FuzzyDuplicateBarrier(
                id_field=self.id_field,
                text_field=self.text_field,
                num_bands=self.num_bands,
                minhashes_per_band=self.minhashes_per_band,
                char_ngrams=self.char_ngrams,
                jaccard_threshold=self.jaccard_threshold,
                verify=self.verify,
            ),
        ]
