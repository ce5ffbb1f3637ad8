"""Exact-duplicate hashing: a 128-bit xxhash of each document's normalised text.

Normalisation (what "exact" means here): Unicode NFC, then every run of whitespace
(any Unicode whitespace, newlines included) replaced by a single space, and leading and
trailing whitespace removed. Case, punctuation and everything else are kept. A null text
counts as the empty string. Two documents are exact duplicates when the hashes of their
normalised texts are equal (xxh3-128: collisions are negligible even for billions of
documents).
"""

from __future__ import annotations

import unicodedata

import pyarrow as pa
import xxhash

from raycurator.stages.base import ProcessingStage
from raycurator.stages.deduplication.common import (
    require_columns,
    require_non_null_ids,
    table_of,
    text_values,
    with_batch,
)
from raycurator.tasks import DocumentBatch

#: Column holding the hex digest of the normalised text.
EXACT_HASH_FIELD = "_exact_hash"


def normalize_for_exact_match(text: str) -> str:
    """NFC, whitespace runs collapsed to one space, stripped (see the module docstring)."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def exact_text_hash(text: str) -> str:
    """The 32-hex-digit xxh3-128 digest of the normalised `text`."""
    return xxhash.xxh3_128_hexdigest(normalize_for_exact_match(text).encode("utf-8"))


def raw_text_hash(text: str) -> str:
    """The 32-hex-digit xxh3-128 digest of `text` as it is (no normalisation)."""
    return xxhash.xxh3_128_hexdigest(text.encode("utf-8"))


class ExactDuplicateHashStage(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Add `hash_field` holding the xxh3-128 hex digest of each document's normalised text.

    With `keep_columns` given, the output keeps only those columns plus the hash (e.g. just
    the id, so the following shuffle moves ids and hashes, not texts).
    """

    _name = "ExactDuplicateHashStage"

    def __init__(
        self,
        text_field: str = "text",
        hash_field: str = EXACT_HASH_FIELD,
        keep_columns: list[str] | None = None,
        normalize: bool = True,
    ) -> None:
        self.normalize = normalize  # False: hash the text as it is (NeMo's normalize_text=False)
        self.text_field = text_field
        self.hash_field = hash_field
        self.keep_columns = None if keep_columns is None else list(keep_columns)

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [self.text_field, *(self.keep_columns or [])]

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [*(self.keep_columns or []), self.hash_field]

    def process(self, task: DocumentBatch) -> DocumentBatch:
        table = table_of(task, self.name)
        require_columns(table, [self.text_field, *(self.keep_columns or [])], self.name, task)
        for column in self.keep_columns or []:
            require_non_null_ids(table, column, self.name, task)
        digest = exact_text_hash if self.normalize else raw_text_hash
        hashes = pa.array([digest(t) for t in text_values(table, self.text_field)], type=pa.string())
        if self.keep_columns is not None:
            table = table.select(self.keep_columns)
        if self.hash_field in table.column_names:
            table = table.drop_columns([self.hash_field])
        return with_batch(task, table.append_column(self.hash_field, hashes))
