"""Jaccard verification of candidate pairs: two shuffles joining each pair with its texts.

1. `CandidatePairTextJoin` shuffles pair rows by their left id and document rows by their id;
   each partition attaches the left document's text to its pairs (dropping repeated pairs)
   and re-keys them by the right id. Document rows pass on.
2. `JaccardVerificationStage` shuffles the same way by the right id; each partition attaches
   the right text, computes the Jaccard similarity of the two character n-gram sets and keeps
   the pairs at or above the threshold, as verified pair rows.
"""

from __future__ import annotations

import logging

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from raycurator.stages.deduplication.common import CURATOR_DEDUP_ID_STR
from raycurator.stages.deduplication.fuzzy.rows import (
    JACCARD_FIELD,
    KIND_DOCUMENT,
    KIND_PAIR,
    KIND_PAIR_WITH_TEXT,
    PAIR_ID_FIELD,
    PAIR_TEXT_FIELD,
    ROW_KIND_FIELD,
    kind_column,
    null_column,
    rows_of_kind,
)
from raycurator.stages.deduplication.fuzzy.shingles import jaccard_of_sets, shingle_set
from raycurator.stages.shuffle import ShuffleStage

logger = logging.getLogger(__name__)


def _lookup(ids: pa.ChunkedArray | pa.Array, documents: pa.Table, id_field: str, text_field: str) -> tuple[
    np.ndarray, pa.ChunkedArray | pa.Array
]:
    """(found mask, texts of the found ids) looking `ids` up among the document rows."""
    position = pc.index_in(ids, value_set=documents.column(id_field).combine_chunks())
    found = np.asarray(pc.is_valid(position).to_numpy(zero_copy_only=False), dtype=bool)
    texts = documents.column(text_field).take(position.filter(pa.array(found)))
    return found, texts


class CandidatePairTextJoin(ShuffleStage):
    """Shuffle by id; attach each distinct candidate pair's left text, re-keyed by the right id."""

    _name = "CandidatePairTextJoin"

    def __init__(
        self,
        id_field: str = CURATOR_DEDUP_ID_STR,
        text_field: str = "text",
        num_partitions: int | None = None,
    ) -> None:
        super().__init__(id_field, num_partitions=num_partitions)
        self.id_field = id_field
        self.text_field = text_field

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [ROW_KIND_FIELD, self.id_field, PAIR_ID_FIELD, self.text_field]

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [ROW_KIND_FIELD, self.id_field, PAIR_ID_FIELD, PAIR_TEXT_FIELD, self.text_field]

    def reduce_table(self, partition_index: int, table: pa.Table) -> pa.Table | None:
        documents = rows_of_kind(table, KIND_DOCUMENT, [self.id_field, self.text_field])
        pairs = rows_of_kind(table, KIND_PAIR, [self.id_field, PAIR_ID_FIELD])
        pairs = pairs.group_by([self.id_field, PAIR_ID_FIELD], use_threads=False).aggregate([])
        found, left_texts = _lookup(pairs.column(self.id_field), documents, self.id_field, self.text_field)
        if not found.all():
            logger.warning(
                "stage '%s' partition %d: %d candidate pair(s) whose left document has no text; dropped",
                self.name, partition_index, int((~found).sum()),
            )
            pairs = pairs.filter(pa.array(found))
        id_type = table.schema.field(self.id_field).type
        text_type = table.schema.field(self.text_field).type
        n_pairs, n_docs = pairs.num_rows, documents.num_rows
        out = pa.table(
            {
                ROW_KIND_FIELD: kind_column(KIND_PAIR_WITH_TEXT, n_pairs),
                self.id_field: pairs.column(PAIR_ID_FIELD).cast(id_type),
                PAIR_ID_FIELD: pairs.column(self.id_field).cast(id_type),
                PAIR_TEXT_FIELD: left_texts.cast(text_type),
                self.text_field: null_column(text_type, n_pairs),
            }
        )
        if n_docs:
            docs_out = pa.table(
                {
                    ROW_KIND_FIELD: kind_column(KIND_DOCUMENT, n_docs),
                    self.id_field: documents.column(self.id_field),
                    PAIR_ID_FIELD: null_column(id_type, n_docs),
                    PAIR_TEXT_FIELD: null_column(text_type, n_docs),
                    self.text_field: documents.column(self.text_field),
                }
            )
            out = pa.concat_tables([docs_out, out.cast(docs_out.schema)])
        return out if out.num_rows else None


class JaccardVerificationStage(ShuffleStage):
    """Shuffle by id; keep the candidate pairs whose n-gram Jaccard is >= `jaccard_threshold`.

    Output rows: `(id_field = left, _pair_id = right, _jaccard)` of kind pair.
    """

    _name = "JaccardVerificationStage"

    def __init__(
        self,
        id_field: str = CURATOR_DEDUP_ID_STR,
        text_field: str = "text",
        char_ngrams: int = 24,
        jaccard_threshold: float = 0.8,
        num_partitions: int | None = None,
    ) -> None:
        super().__init__(id_field, num_partitions=num_partitions)
        if not 0.0 <= jaccard_threshold <= 1.0:
            raise ValueError(f"jaccard_threshold must lie in [0, 1], got {jaccard_threshold}")
        self.id_field = id_field
        self.text_field = text_field
        self.char_ngrams = char_ngrams
        self.jaccard_threshold = jaccard_threshold

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [ROW_KIND_FIELD, self.id_field, PAIR_ID_FIELD, PAIR_TEXT_FIELD, self.text_field]

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [ROW_KIND_FIELD, self.id_field, PAIR_ID_FIELD, JACCARD_FIELD]

    def reduce_table(self, partition_index: int, table: pa.Table) -> pa.Table | None:
        documents = rows_of_kind(table, KIND_DOCUMENT, [self.id_field, self.text_field])
        pairs = rows_of_kind(table, KIND_PAIR_WITH_TEXT, [self.id_field, PAIR_ID_FIELD, PAIR_TEXT_FIELD])
        if pairs.num_rows == 0:
            return None
        found, right_texts = _lookup(pairs.column(self.id_field), documents, self.id_field, self.text_field)
        if not found.all():
            logger.warning(
                "stage '%s' partition %d: %d candidate pair(s) whose right document has no text; dropped",
                self.name, partition_index, int((~found).sum()),
            )
            pairs = pairs.filter(pa.array(found))
        lefts = pairs.column(PAIR_ID_FIELD).to_pylist()
        rights = pairs.column(self.id_field).to_pylist()
        left_texts = pairs.column(PAIR_TEXT_FIELD).to_pylist()
        right_texts = right_texts.to_pylist()
        cache: dict[object, np.ndarray] = {}

        def ngram_set(doc_id: object, text: str | None) -> np.ndarray:
            value = cache.get(doc_id)
            if value is None:
                value = cache[doc_id] = shingle_set(text or "", self.char_ngrams)
            return value

        similarity = np.array(
            [
                jaccard_of_sets(ngram_set(a, ta), ngram_set(b, tb))
                for a, ta, b, tb in zip(lefts, left_texts, rights, right_texts, strict=True)
            ],
            dtype=np.float64,
        )
        keep = similarity >= self.jaccard_threshold
        self._log_metrics({"num_candidate_pairs": len(keep), "num_verified_pairs": int(keep.sum())})
        logger.debug(
            "stage '%s' partition %d: %d of %d candidate pairs verified",
            self.name, partition_index, int(keep.sum()), len(keep),
        )
        if not keep.any():
            return None
        mask = pa.array(keep)
        id_type = table.schema.field(self.id_field).type
        return pa.table(
            {
                ROW_KIND_FIELD: kind_column(KIND_PAIR, int(keep.sum())),
                self.id_field: pairs.column(PAIR_ID_FIELD).filter(mask).cast(id_type),
                PAIR_ID_FIELD: pairs.column(self.id_field).filter(mask).cast(id_type),
                JACCARD_FIELD: pa.array(similarity[keep], type=pa.float64()),
            }
        )
