"""`JsonlWriter`: writes each batch as a JSON Lines file."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from raycurator.stages.text.io.writer._json_encode import table_to_jsonl
from raycurator.stages.text.io.writer.base import BaseWriter


class JsonlWriter(BaseWriter):
    """One JSON Lines file per task (UTF-8, non-ASCII unescaped, keys in column order).

    See `BaseWriter` for naming, collision and atomicity rules, `mode` and `partition_by`.
    `write_kwargs` may hold `storage_options` only.
    """

    def __init__(
        self,
        path: str,
        file_extension: str = "jsonl",
        write_kwargs: dict[str, Any] | None = None,
        fields: list[str] | None = None,
        storage_options: dict[str, Any] | None = None,
        mode: str = "ignore",
        partition_by: str | list[str] | None = None,
    ) -> None:
        super().__init__(path, file_extension, write_kwargs, fields, storage_options, mode, partition_by)
        if self.write_kwargs:
            raise ValueError(f"JsonlWriter: unsupported write_kwargs {sorted(self.write_kwargs)}")
        self._name = "jsonl_writer"

    def serialize(self, table: pa.Table) -> bytes:
        return table_to_jsonl(table)
