"""`DeduplicationIO`: reading and writing helpers of the deduplication stages, on CPUs.

NeMo Curator 1.4's mixin of the same name reads into cuDF; this one reads into pandas
DataFrames (through pyarrow) with the same methods and parameters. With `assign_id=True` and
an id generator (an `IdGeneratorBase` or the `IdGenerator` actor's handle), documents without
a `_curator_dedup_id` column get ids from the range the generator reserves for the files read.
"""

from __future__ import annotations

import posixpath
import uuid
from collections.abc import Callable
from typing import Any

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.json as pj
import pyarrow.parquet as pq

from raycurator.stages.deduplication.common import CURATOR_DEDUP_ID_STR

__all__ = ["DeduplicationIO"]


def _paths(filepath: str | list[str]) -> list[str]:
    return filepath if isinstance(filepath, list) else [filepath]


class DeduplicationIO:
    """Mixin: `read_jsonl`, `read_parquet`, `custom_read`, `write_parquet` and `assign_id`."""

    def __init__(self, id_generator: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.id_generator = id_generator

    def read_jsonl(
        self, filepath: str | list[str], columns: list[str] | None = None, assign_id: bool = False, **kwargs: Any
    ) -> pd.DataFrame:
        """JSON Lines file(s) as one DataFrame, only `columns` when given."""
        storage_options = kwargs.pop("storage_options", None) or {}
        tables = []
        for path in _paths(filepath):
            with fsspec.open(path, "rb", compression="infer", **storage_options) as handle:
                table = pj.read_json(handle)
            tables.append(table.select(columns) if columns is not None else table)
        frame = pa.concat_tables(tables, promote_options="default").to_pandas() if tables else pd.DataFrame()
        return self.assign_id(filepath, frame) if assign_id and self.id_generator is not None else frame

    def read_parquet(self, filepath: str | list[str], assign_id: bool = False, **kwargs: Any) -> pd.DataFrame:
        """Parquet file(s) as one DataFrame (schemas may differ between files)."""
        storage_options = kwargs.pop("storage_options", None) or {}
        columns = kwargs.pop("columns", None)
        tables = []
        for path in _paths(filepath):
            with fsspec.open(path, "rb", **storage_options) as handle:
                tables.append(pq.read_table(handle, columns=columns, **kwargs))
        frame = pa.concat_tables(tables, promote_options="default").to_pandas() if tables else pd.DataFrame()
        return self.assign_id(filepath, frame) if assign_id and self.id_generator is not None else frame

    def custom_read(
        self, filepath: str | list[str], read_func: Callable[..., pd.DataFrame], assign_id: bool = False, **kwargs: Any
    ) -> pd.DataFrame:
        """`read_func(filepath, **kwargs)`, then ids as in the other readers."""
        frame = read_func(filepath, **kwargs)
        return self.assign_id(filepath, frame) if assign_id and self.id_generator is not None else frame

    def write_parquet(self, df: pd.DataFrame, filepath: str, **kwargs: Any) -> None:
        """Write `df` to `filepath` atomically (a temporary file next to it, then a rename)."""
        storage_options = kwargs.pop("storage_options", None) or {}
        kwargs.pop("index", None)
        fs, path = fsspec.core.url_to_fs(filepath, **storage_options)
        parent = posixpath.dirname(path)
        if parent:
            fs.makedirs(parent, exist_ok=True)
        temporary = posixpath.join(parent, f".{posixpath.basename(path)}.{uuid.uuid4().hex}.tmp")
        table = pa.Table.from_pandas(df, preserve_index=False)
        try:
            with fs.open(temporary, "wb") as handle:
                pq.write_table(table, handle, **kwargs)
            fs.mv(temporary, path)
        finally:
            if fs.exists(temporary):
                fs.rm(temporary)

    def assign_id(self, filepath: str | list[str], df: pd.DataFrame) -> pd.DataFrame:
        """Add `_curator_dedup_id` from the generator's range for `filepath` (kept when present)."""
        if CURATOR_DEDUP_ID_STR in df.columns:
            return df
        if self.id_generator is None:
            raise ValueError(f"an id generator is needed to add {CURATOR_DEDUP_ID_STR} to data read from {filepath}")
        count = len(df)
        register = self.id_generator.register_batch
        if hasattr(register, "remote"):  # the actor's handle
            import ray

            first = ray.get(register.remote(filepath, count))
        else:
            first = register(filepath, count)
        df = df.copy()
        df[CURATOR_DEDUP_ID_STR] = np.arange(first, first + count, dtype=np.int64)
        return df
