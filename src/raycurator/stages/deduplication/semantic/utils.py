"""Reading embedding files and checking them, and writing Parquet atomically (semantic dedup).

Every problem with an embedding file names the stage, the file and the row: a missing
column, an embedding that is null, ragged or of another width than the rest, or that holds
NaN/infinite values.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
import pyarrow.parquet as pq

from raycurator.errors import StageInputError
from raycurator.stages.text.io._fs import read_bytes, url_to_fs
from raycurator.stages.text.io.writer._files import atomic_write

EMBEDDING_DTYPES = ("float16", "float32")


def read_table(
    path: str, filetype: str, columns: list[str] | None, read_kwargs: dict[str, Any] | None = None
) -> pa.Table:
    """`columns` of one JSONL or Parquet file (all when None); missing columns are an error later."""
    options = dict(read_kwargs or {})
    storage_options = options.pop("storage_options", None)
    if filetype == "parquet":
        fs, local = url_to_fs(path, storage_options)
        with fs.open(local, "rb") as handle:
            schema = pq.read_schema(handle)
            handle.seek(0)
            present = [c for c in columns if c in schema.names] if columns is not None else None
            return pq.read_table(handle, columns=present, **options)
    table = pj.read_json(io.BytesIO(read_bytes(path, storage_options)))
    if columns is not None:
        table = table.select([c for c in columns if c in table.column_names])
    return table


def require_file_columns(table: pa.Table, columns: list[str], stage: str, path: str) -> None:
    """A `StageInputError` naming stage and file when `columns` are missing."""
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise StageInputError(
            f"stage '{stage}': file '{path}' lacks column(s) {missing}; it has {sorted(table.column_names)}"
        )


def embeddings_matrix(table: pa.Table, field: str, stage: str, path: str, dim: int | None = None) -> np.ndarray:
    """The `field` column as a float32 (rows, dim) matrix; a `StageInputError` names file and row
    of any null, ragged, wrong-width or non-finite embedding."""
    require_file_columns(table, [field], stage, path)
    column = table.column(field).combine_chunks() if table.num_rows else pa.array([], pa.list_(pa.float32()))
    kind = column.type
    if not (pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind)):
        raise StageInputError(f"stage '{stage}': file '{path}' column '{field}' holds {kind}, not lists of numbers")
    if column.null_count:
        row = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
        raise StageInputError(f"stage '{stage}': file '{path}' row {row} has no embedding in '{field}'")
    n = len(column)
    if n == 0:
        return np.zeros((0, dim or 0), dtype=np.float32)
    lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False)
    expected = dim if dim is not None else int(lengths[0])
    bad = np.flatnonzero(lengths != expected)
    if len(bad):
        row = int(bad[0])
        what = "the other files'" if dim is not None else "the file's first row's"
        raise StageInputError(
            f"stage '{stage}': file '{path}' row {row} has an embedding of dimension {int(lengths[row])}, "
            f"but {what} is {expected}"
        )
    if expected == 0:
        raise StageInputError(f"stage '{stage}': file '{path}' has empty embeddings in '{field}'")
    values = pc.list_flatten(column).to_numpy(zero_copy_only=False)
    matrix = np.asarray(values, dtype=np.float32).reshape(n, expected)
    finite = np.isfinite(matrix).all(axis=1)
    if not finite.all():
        row = int(np.flatnonzero(~finite)[0])
        raise StageInputError(f"stage '{stage}': file '{path}' row {row} has NaN or infinite values in '{field}'")
    return matrix


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    """`matrix` with every row scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)


def embedding_array(matrix: np.ndarray, dtype: str = "float32") -> pa.Array:
    """A list<float32> (or list<halffloat>) Arrow column, one row per matrix row."""
    if dtype not in EMBEDDING_DTYPES:
        raise ValueError(f"embedding dtype must be one of {EMBEDDING_DTYPES}, got {dtype!r}")
    values = np.ascontiguousarray(matrix, dtype=np.float16 if dtype == "float16" else np.float32)
    rows, dim = values.shape
    offsets = pa.array(np.arange(rows + 1, dtype=np.int32) * dim)
    return pa.ListArray.from_arrays(offsets, pa.array(values.reshape(-1)))


def _holds_floats(kind: pa.DataType) -> bool:
    while pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        kind = kind.value_type
    return pa.types.is_floating(kind)


def dictionary_columns(schema: pa.Schema) -> list[str]:
    """The columns of `schema` worth dictionary-encoding in Parquet: all but floating-point ones."""
    return [f.name for f in schema if not _holds_floats(f.type)]


def write_parquet_atomic(table: pa.Table, path: str, write_kwargs: dict[str, Any] | None = None) -> None:
    """`table` as a Parquet file at `path`, written to a temporary name then renamed.

    Unless `write_kwargs` says otherwise, dictionary encoding is used only for columns that
    are not floating point (or lists of it): embeddings and scores almost never repeat, so a
    dictionary makes their files slower to write (about 3x) and read (2x), and larger.
    """
    options = dict(write_kwargs or {})
    storage_options = options.pop("storage_options", None)
    options.setdefault("use_dictionary", dictionary_columns(table.schema))
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, **options)
    fs, local = url_to_fs(path, storage_options)
    atomic_write(fs, local, sink.getvalue().to_pybytes())
