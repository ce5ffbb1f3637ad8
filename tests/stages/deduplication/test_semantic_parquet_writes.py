"""Parquet files of the semantic-dedup stages: no dictionary for float columns unless asked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from raycurator.stages.deduplication.semantic.utils import dictionary_columns, write_parquet_atomic


def _table(rows: int = 50) -> pa.Table:
    vectors = np.random.default_rng(0).random((rows, 8), dtype=np.float32)
    offsets = pa.array(np.arange(rows + 1, dtype=np.int32) * 8)
    return pa.table(
        {
            "id": [f"doc-{i % 5}" for i in range(rows)],
            "embeddings": pa.ListArray.from_arrays(offsets, pa.array(vectors.reshape(-1))),
            "cosine_sim_score": pa.array(vectors[:, 0]),
            "centroid": pa.array(np.zeros(rows, dtype=np.int64)),
        }
    )


def _encodings(path: Path) -> dict[str, tuple[str, ...]]:
    group = pq.ParquetFile(path).metadata.row_group(0)
    return {group.column(i).path_in_schema: group.column(i).encodings for i in range(group.num_columns)}


def test_float_columns_are_written_without_a_dictionary(tmp_path: Path) -> None:
    table = _table()
    write_parquet_atomic(table, str(tmp_path / "a.parquet"))
    encodings = _encodings(tmp_path / "a.parquet")
    assert "RLE_DICTIONARY" in encodings["id"] and "RLE_DICTIONARY" in encodings["centroid"]
    assert "RLE_DICTIONARY" not in encodings["embeddings.list.element"]
    assert "RLE_DICTIONARY" not in encodings["cosine_sim_score"]
    assert pq.read_table(tmp_path / "a.parquet").equals(table)
    assert list((tmp_path).iterdir()) == [tmp_path / "a.parquet"]  # no temporary file left


def test_write_kwargs_choose_the_dictionary_columns(tmp_path: Path) -> None:
    write_parquet_atomic(_table(), str(tmp_path / "b.parquet"), {"use_dictionary": True})
    assert "RLE_DICTIONARY" in _encodings(tmp_path / "b.parquet")["embeddings.list.element"]


def test_dictionary_columns_skip_nested_floats() -> None:
    schema = pa.schema(
        [("id", pa.string()), ("v", pa.list_(pa.float32())), ("w", pa.list_(pa.float64(), 3)), ("n", pa.int32())]
    )
    assert dictionary_columns(schema) == ["id", "n"]
