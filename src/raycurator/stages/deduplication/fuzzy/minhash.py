"""MinHash signatures over character n-grams, vectorised with NumPy.

Each shingle hash (see `shingles`) is cut to its top 32 bits `h` (0 becomes 1); permutation
`i` maps it to `a_i * h mod 2**32` with `a_i` odd -- a bijection of the 32-bit values
(multiplicative hashing; the shingle hashes are already well mixed, so no additive term is
needed, which saves a third of the work). The odd multipliers are drawn from `seed`. The
signature is the minimum over the document's shingles of each permutation, computed as one
(num_perm x shingles) uint32 array per chunk of shingles and a min over its columns. The
fraction of equal signature entries of two documents estimates the Jaccard similarity of
their n-gram sets. A document without shingles (empty text) has the all-`EMPTY_SIGNATURE_VALUE`
signature and is left out of LSH buckets. With `bits=64` the whole 64-bit shingle hash is
permuted the same way modulo 2**64 (odd 64-bit multipliers), giving uint64 signatures (the
all-maximum signature marks a document without shingles).

Stages: `InMemoryMinHashStage` adds signatures to `DocumentBatch`es (our workflows);
`MinHashStage` is NeMo Curator 1.4's, reading file groups and writing signature files.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from raycurator.stages.base import ProcessingStage
from raycurator.stages.deduplication.common import (
    CURATOR_DEDUP_ID_STR,
    normalize_dedup_text,
    require_columns,
    require_non_null_ids,
    table_of,
    text_values,
    with_batch,
)
from raycurator.stages.deduplication.files import (
    assign_generator_ids,
    create_or_overwrite_dir,
    file_group_of,
    join_path,
    read_files,
    running_id_generator,
    storage_options_of,
    write_parquet_atomic,
)
from raycurator.stages.deduplication.fuzzy.shingles import shingle_hashes
from raycurator.tasks import DocumentBatch, FileGroupTask

logger = logging.getLogger(__name__)

#: Column holding the signature (fixed-size list of uint32, `num_perm` long).
MINHASH_FIELD = "_minhash_signature"
#: Every entry of the signature of a document without shingles.
EMPTY_SIGNATURE_VALUE = np.iinfo(np.uint32).max
_CHUNK = 1024  # shingles per (num_perm x chunk) block: fits a CPU's L2 cache


class MinHasher:
    """Computes seeded MinHash signatures of texts over character n-grams."""

    def __init__(self, num_perm: int = 260, char_ngrams: int = 24, seed: int = 42, bits: int = 32) -> None:
        if num_perm < 1:
            raise ValueError(f"num_perm must be >= 1, got {num_perm}")
        if char_ngrams < 1:
            raise ValueError(f"char_ngrams must be >= 1, got {char_ngrams}")
        if bits not in (32, 64):
            raise ValueError(f"bits must be 32 or 64, got {bits}")
        self.num_perm = int(num_perm)
        self.char_ngrams = int(char_ngrams)
        self.seed = int(seed)
        self.bits = bits
        self.dtype = np.uint32 if bits == 32 else np.uint64
        rng = np.random.default_rng(self.seed)
        if bits == 32:
            a = rng.integers(0, 2**32, self.num_perm, dtype=np.uint64) | np.uint64(1)
        else:  # odd 64-bit multipliers: a * h mod 2**64 is a bijection of the 64-bit values
            a = rng.integers(0, np.iinfo(np.uint64).max, self.num_perm, dtype=np.uint64, endpoint=True)
            a |= np.uint64(1)
        self._a = a.astype(self.dtype)[:, None]
        self._buffer = np.empty((self.num_perm, _CHUNK), dtype=self.dtype)

    @property
    def empty_value(self) -> int:
        """Every entry of the signature of a document without shingles (the largest value)."""
        return int(np.iinfo(self.dtype).max)

    def signature_of_hashes(self, hashes: np.ndarray) -> np.ndarray:
        """The signature (`num_perm` values of `bits` bits) of a document given its 64-bit shingle hashes."""
        signature = np.full(self.num_perm, self.empty_value, dtype=self.dtype)
        if len(hashes) == 0:
            return signature
        if self.bits == 32:
            top = (hashes >> np.uint64(32)).astype(np.uint32)
        else:
            top = np.array(hashes, dtype=np.uint64)
        top[top == 0] = 1  # 0 is a fixed point of every permutation
        for start in range(0, len(top), _CHUNK):
            chunk = top[start : start + _CHUNK]
            block = self._buffer[:, : len(chunk)]
            np.multiply(self._a, chunk[None, :], out=block)
            np.minimum(signature, block.min(axis=1), out=signature)
        return signature

    def signature(self, text: str) -> np.ndarray:
        """The signature (`num_perm` values) of one text."""
        return self.signature_of_hashes(shingle_hashes(text, self.char_ngrams))

    def signatures(self, texts: list[str]) -> np.ndarray:
        """Signatures of many texts, one row each: a (len(texts), num_perm) array (uint32, or uint64 with 64 bits)."""
        out = np.empty((len(texts), self.num_perm), dtype=self.dtype)
        for row, text in enumerate(texts):
            out[row] = self.signature(text)
        return out

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_buffer", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.setdefault("bits", 32)
        self.__dict__.setdefault("dtype", np.uint32)
        self.__dict__.update(state)
        self._buffer = np.empty((self.num_perm, _CHUNK), dtype=self.dtype)


def has_shingles(signatures: np.ndarray) -> np.ndarray:
    """Per row, whether the signature is a real one (not all-maximum: a document without shingles)."""
    return ~np.all(signatures == np.iinfo(signatures.dtype).max, axis=1)


def estimate_jaccard(signature_a: np.ndarray, signature_b: np.ndarray) -> float:
    """Fraction of equal entries of two signatures: an estimate of their Jaccard similarity."""
    if signature_a.shape != signature_b.shape:
        raise ValueError(f"signatures differ in length: {signature_a.shape} vs {signature_b.shape}")
    return float(np.mean(signature_a == signature_b))


def signatures_to_arrow(signatures: np.ndarray) -> pa.FixedSizeListArray:
    """A (n, num_perm) uint32 (or uint64) array as a fixed-size-list Arrow column (no copy of the values)."""
    flat = pa.array(np.ascontiguousarray(signatures).reshape(-1))
    return pa.FixedSizeListArray.from_arrays(flat, signatures.shape[1])


def signatures_from_arrow(column: pa.ChunkedArray | pa.Array, num_perm: int) -> np.ndarray:
    """A fixed-size-list (or list) signature column back as a (n, num_perm) array.

    uint64 values (64-bit signatures) stay uint64; anything else becomes uint32.
    """
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    dtype = np.uint64 if column.type.value_type == pa.uint64() else np.uint32
    if len(column) == 0:
        return np.empty((0, num_perm), dtype=dtype)
    flat = column.flatten().to_numpy(zero_copy_only=False).astype(dtype, copy=False)
    if flat.size != len(column) * num_perm:
        raise ValueError(f"signature column does not hold {num_perm} values per row")
    return flat.reshape(len(column), num_perm)


class InMemoryMinHashStage(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Add the MinHash signature of each document's text as `minhash_field`.

    The output keeps `id_field` and the signature, plus the text when `keep_text` (needed
    by the Jaccard verification further on) and every other column when `keep_columns`.
    """

    _name = "InMemoryMinHashStage"

    def __init__(
        self,
        text_field: str = "text",
        id_field: str = CURATOR_DEDUP_ID_STR,
        minhash_field: str = MINHASH_FIELD,
        char_ngrams: int = 24,
        num_perm: int = 260,
        seed: int = 42,
        keep_text: bool = False,
        keep_columns: bool = False,
    ) -> None:
        self.text_field = text_field
        self.id_field = id_field
        self.minhash_field = minhash_field
        self.char_ngrams = char_ngrams
        self.num_perm = num_perm
        self.seed = seed
        self.keep_text = keep_text
        self.keep_columns = keep_columns
        self._hasher = MinHasher(num_perm=num_perm, char_ngrams=char_ngrams, seed=seed)

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [self.id_field, self.text_field]

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [self.id_field, self.minhash_field]

    def process(self, task: DocumentBatch) -> DocumentBatch:
        table = table_of(task, self.name)
        require_columns(table, [self.id_field, self.text_field], self.name, task)
        require_non_null_ids(table, self.id_field, self.name, task)
        signatures = self._hasher.signatures(text_values(table, self.text_field))
        if not self.keep_columns:
            table = table.select([self.id_field, self.text_field] if self.keep_text else [self.id_field])
        if self.minhash_field in table.column_names:
            table = table.drop_columns([self.minhash_field])
        table = table.append_column(self.minhash_field, signatures_to_arrow(signatures))
        self._log_metric("num_documents", table.num_rows)
        return with_batch(task, table)


class MinHash(ABC):
    """NeMo Curator 1.4's MinHash interface: seed, signature length and n-gram width.

    `compute_minhashes` turns a series of texts into a series of signatures. `CPUMinHash` is
    the implementation here (NeMo Curator's `GPUMinHash` needs cuDF).
    """

    def __init__(
        self, seed: int = 42, num_hashes: int = 260, char_ngrams: int = 24, use_64bit_hash: bool = False
    ) -> None:
        self.seed = seed
        self.num_hashes = num_hashes
        self.char_ngram = char_ngrams
        self.use_64bit_hash = use_64bit_hash

    def generate_seeds(self, n_permutations: int = 260, seed: int = 0, bit_width: int = 32) -> np.ndarray:
        """The permutation seeds; implementations that use explicit seeds override this."""
        raise NotImplementedError(f"{type(self).__name__} does not expose its permutation seeds")

    @abstractmethod
    def compute_minhashes(self, text_series: Any) -> Any:
        """One signature per text of `text_series`."""


class CPUMinHash(MinHash):
    """`MinHash` on CPUs: signatures from `MinHasher` (the hashing of `InMemoryMinHashStage`); 64-bit on ask."""

    def __init__(
        self, seed: int = 42, num_hashes: int = 260, char_ngrams: int = 24, use_64bit_hash: bool = False
    ) -> None:
        super().__init__(seed, num_hashes, char_ngrams, use_64bit_hash)
        bits = 64 if use_64bit_hash else 32
        self._hasher = MinHasher(num_perm=num_hashes, char_ngrams=char_ngrams, seed=seed, bits=bits)

    def compute_minhashes(self, text_series: Any) -> Any:
        """A pandas Series of uint32 signature lists, aligned with `text_series` (nulls count as "")."""
        import pandas as pd  # only this NeMo-compatible helper needs pandas

        texts = ["" if t is None or t != t else str(t) for t in list(text_series)]
        signatures = self._hasher.signatures(texts)
        index = text_series.index if isinstance(text_series, pd.Series) else None
        return pd.Series(list(signatures), index=index, name=MINHASH_FIELD)


class MinHashStage(ProcessingStage[FileGroupTask | DocumentBatch, FileGroupTask]):
    """NeMo Curator 1.4's `MinHashStage` on CPUs: signatures of a file group, written as Parquet.

    Input: a `FileGroupTask` of JSONL or Parquet files (`read_format`), whose documents get
    integer ids from the running id generator actor (`create_id_generator_actor()`), or a
    `DocumentBatch` that already has `_curator_dedup_id` and `text_field`. Output: one file
    ``<output_path>/MinHashStage/<task_id>.parquet`` with `_curator_dedup_id` and
    `minhash_field` (a list of `num_hashes` uint32 values, or uint64 with `use_64bit_hash=True`,
    from `MinHasher`: the hashing of the in-memory `InMemoryMinHashStage` and of
    `FuzzyDeduplicationWorkflow`), and a `FileGroupTask` naming it. The folder is emptied when
    the stage is built, as NeMo Curator does. `normalize_text=True` lower-cases the text and
    collapses whitespace runs first. `pool` (an RMM memory pool) has no effect.
    """

    _name = "MinHashStage"

    def __init__(
        self,
        output_path: str,
        text_field: str = "text",
        minhash_field: str = MINHASH_FIELD,
        char_ngrams: int = 24,
        num_hashes: int = 260,
        seed: int = 42,
        use_64bit_hash: bool = False,
        normalize_text: bool = False,
        read_format: Literal["jsonl", "parquet"] | None = None,
        read_kwargs: dict[str, Any] | None = None,
        write_kwargs: dict[str, Any] | None = None,
        pool: bool = True,
    ) -> None:
        if read_format not in (None, "jsonl", "parquet"):
            raise ValueError(f"MinHashStage: read_format must be 'jsonl', 'parquet' or None, got {read_format!r}")
        self.text_field = text_field
        self.minhash_field = minhash_field
        self.char_ngrams = char_ngrams
        self.num_hashes = num_hashes
        self.seed = seed
        self.use_64bit_hash = use_64bit_hash
        self.normalize_text = normalize_text
        self.read_format = read_format
        self.read_kwargs = dict(read_kwargs or {})
        self.write_kwargs = dict(write_kwargs or {})
        self.pool = pool
        bits = 64 if use_64bit_hash else 32
        self._hasher = MinHasher(num_perm=num_hashes, char_ngrams=char_ngrams, seed=seed, bits=bits)
        self.id_generator: Any = None
        self.output_path = join_path(output_path, self._name)
        create_or_overwrite_dir(self.output_path, storage_options_of(self.write_kwargs))

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], []  # FileGroupTask or DocumentBatch; a batch's columns are checked in process

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], []

    def setup(self, worker_metadata: Any = None) -> None:
        self.id_generator = running_id_generator()
        if self.id_generator is None:  # only file inputs need it, and they fail with a clear error
            logger.warning("stage '%s': no id generator actor; FileGroupTask inputs will fail", self.name)

    def _read(self, task: FileGroupTask | DocumentBatch) -> pa.Table:
        if isinstance(task, DocumentBatch):
            table = table_of(task, self.name)
            require_columns(table, [CURATOR_DEDUP_ID_STR, self.text_field], self.name, task)
            return table.select([CURATOR_DEDUP_ID_STR, self.text_field])
        task = file_group_of(task, self.name)
        if self.id_generator is None:
            raise RuntimeError(
                f"stage '{self.name}': FileGroupTask '{task.task_id}' needs the id generator actor; start it "
                "with create_id_generator_actor(), or give DocumentBatches that have _curator_dedup_id"
            )
        if self.read_format is None:
            raise ValueError(
                f"stage '{self.name}': read_format must be 'jsonl' or 'parquet' to read FileGroupTask "
                f"'{task.task_id}'"
            )
        table = read_files(task, self.name, self.read_format, [self.text_field], self.read_kwargs)
        return assign_generator_ids(table, list(task.data), self.id_generator)

    def process(self, task: FileGroupTask | DocumentBatch) -> FileGroupTask:
        table = self._read(task)
        texts = text_values(table, self.text_field)
        if self.normalize_text:
            texts = [normalize_dedup_text(t) for t in texts]
        signatures = self._hasher.signatures(texts)
        flat = pa.array(signatures.reshape(-1))
        offsets = pa.array(np.arange(0, signatures.size + 1, self.num_hashes, dtype=np.int32))
        result = pa.table(
            {
                CURATOR_DEDUP_ID_STR: table.column(CURATOR_DEDUP_ID_STR),
                self.minhash_field: pa.ListArray.from_arrays(offsets, flat),
            }
        )
        path = join_path(self.output_path, f"{task.task_id}.parquet")
        kwargs = dict(self.write_kwargs)
        storage_options = kwargs.pop("storage_options", None)
        write_parquet_atomic(result, path, storage_options, **kwargs)
        self._log_metric("num_documents", result.num_rows)
        return FileGroupTask(
            task_id=task.task_id,
            dataset_name=f"{task.dataset_name}_minhash",
            data=[path],
            _metadata={
                **task._metadata,
                "minhash_field": self.minhash_field,
                "num_hashes": self.num_hashes,
                "storage_options": storage_options,
            },
            _stage_perf=list(task._stage_perf),
        )
