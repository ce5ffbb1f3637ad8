"""`ParquetWriter`: writes each batch as a Parquet file."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from raycurator.stages.text.io.writer.base import BaseWriter


class ParquetWriter(BaseWriter):
    """One Parquet file per task; `write_kwargs` go to `pyarrow.parquet.write_table`
    (e.g. `compression="zstd"`; default snappy).

    See `BaseWriter` for naming, collision and atomicity rules, `mode` and `partition_by`.
    """

    def __init__(
        self,
        path: str,
        file_extension: str = "parquet",
        write_kwargs: dict[str, Any] | None = None,
        fields: list[str] | None = None,
        storage_options: dict[str, Any] | None = None,
        mode: str = "ignore",
        partition_by: str | list[str] | None = None,
    ) -> None:
        super().__init__(path, file_extension, write_kwargs, fields, storage_options, mode, partition_by)
        self._name = "parquet_writer"

    def serialize(self, table: pa.Table) -> bytes:
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, **self.write_kwargs)
        return sink.getvalue().to_pybytes()
