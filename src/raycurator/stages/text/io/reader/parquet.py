"""Parquet readers: `ParquetReaderStage` (one partition) and the `ParquetReader` composite."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from raycurator.stages.base import ProcessingStage
from raycurator.stages.text.io._fs import is_local, url_to_fs
from raycurator.stages.text.io.reader.base import BaseReader, BaseReaderStage

PARQUET_EXTENSIONS = (".parquet", ".pq")


class ParquetReaderStage(BaseReaderStage):
    """Reads Parquet files into an Arrow table, only the requested `fields` when given.

    `read_kwargs` go to `pyarrow.parquet.ParquetFile.read` (e.g. `use_threads`). Zero-byte
    files count as empty.
    """

    def __init__(
        self,
        fields: list[str] | None = None,
        storage_options: dict[str, Any] | None = None,
        read_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(fields, storage_options)
        self.read_kwargs = dict(read_kwargs or {})
        if "columns" in self.read_kwargs:
            raise ValueError("ParquetReaderStage: select columns with fields=, not read_kwargs['columns']")
        self._name = "parquet_reader"

    def _read(self, source: Any, path: str) -> pa.Table:
        try:
            parquet = pq.ParquetFile(source)
        except (pa.ArrowInvalid, OSError) as error:
            raise ValueError(f"stage '{self.name}': cannot read Parquet file {path}: {error}") from error
        names = parquet.schema_arrow.names
        if self.fields is not None:
            missing = [f for f in self.fields if f not in names]
            if missing:
                raise ValueError(
                    f"stage '{self.name}': field(s) {missing} not found in file {path}; its fields are {names}"
                )
        return parquet.read(columns=self.fields, **self.read_kwargs)

    def read_file(self, path: str) -> pa.Table | None:
        fs, stripped = url_to_fs(path, self.storage_options)
        if fs.size(stripped) == 0:
            return None
        if is_local(fs):
            return self._read(stripped, path)
        with fs.open(stripped, "rb") as handle:
            return self._read(handle, path)


class ParquetReader(BaseReader):
    """Reads Parquet files into `DocumentBatch`es: file partitioning, then `ParquetReaderStage`."""

    default_extensions = PARQUET_EXTENSIONS

    def make_reader_stage(self) -> ProcessingStage:
        return ParquetReaderStage(self.fields, self.storage_options, self.read_kwargs)
