"""JSON Lines readers: `JsonlReaderStage` (one partition) and the `JsonlReader` composite."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from raycurator.errors import SkippedRecord
from raycurator.stages.base import ProcessingStage
from raycurator.stages.text.io._fs import read_bytes
from raycurator.stages.text.io.reader._jsonl_parse import DEFAULT_BLOCK_SIZE, parse_jsonl
from raycurator.stages.text.io.reader.base import BaseReader, BaseReaderStage

JSONL_EXTENSIONS = (".jsonl", ".json", ".jsonl.gz", ".json.gz", ".jsonl.bz2", ".jsonl.xz", ".jsonl.zst")
_READ_OPTIONS = ("block_size", "compression")


class JsonlReaderStage(BaseReaderStage):
    """Reads JSON Lines files (optionally compressed, by extension) into an Arrow table.

    A malformed line is an error naming the file and line number; with `skip_malformed=True`
    such lines are dropped, logged as a warning, counted in the custom metrics
    `malformed_lines_skipped`, `skipped.<reason>` and `skipped_in.<file>`, and listed in the run's
    failure ledger (file, line, reason). Lines nesting deeper than 100 levels, and lines whose
    field has another JSON type than the other lines give it, are malformed too. `read_kwargs`
    may hold `block_size` (bytes per pyarrow parse block) and `compression` (fsspec name,
    default inferred from the extension).
    """

    def __init__(
        self,
        fields: list[str] | None = None,
        storage_options: dict[str, Any] | None = None,
        skip_malformed: bool = False,
        read_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(fields, storage_options)
        unknown = sorted(set(read_kwargs or {}) - set(_READ_OPTIONS))
        if unknown:
            raise ValueError(f"JsonlReaderStage: unknown read_kwargs {unknown}; supported: {list(_READ_OPTIONS)}")
        self.skip_malformed = skip_malformed
        self.read_kwargs = dict(read_kwargs or {})
        self._name = "jsonl_reader"

    def read_file(self, path: str) -> pa.Table | None:
        data = read_bytes(path, self.storage_options, self.read_kwargs.get("compression", "infer"))
        try:
            result = parse_jsonl(
                data, path, self.skip_malformed, int(self.read_kwargs.get("block_size", DEFAULT_BLOCK_SIZE))
            )
        except ValueError as error:
            raise ValueError(f"stage '{self.name}': {error}") from error
        if result.skipped:
            self._log_metric("malformed_lines_skipped", len(result.skipped))
            for line in result.skipped:
                self._log_skipped_record(SkippedRecord(path, line.line, line.reason, line.detail))
        return result.table


class JsonlReader(BaseReader):
    """Reads JSON Lines files into `DocumentBatch`es: file partitioning, then `JsonlReaderStage`.

    `file_paths` is a directory, a glob, a file or a list of them (local or fsspec URLs).
    Partitions hold `files_per_partition` files each, or up to `blocksize` bytes ("64MB"),
    or one file each by default.
    """

    default_extensions = JSONL_EXTENSIONS

    def __init__(
        self,
        file_paths: str | list[str],
        files_per_partition: int | None = None,
        blocksize: int | str | None = None,
        fields: list[str] | None = None,
        read_kwargs: dict[str, Any] | None = None,
        file_extensions: list[str] | None = None,
        storage_options: dict[str, Any] | None = None,
        limit: int | None = None,
        skip_malformed: bool = False,
        use_manifest: bool = False,
    ) -> None:
        self.skip_malformed = skip_malformed
        super().__init__(
            file_paths, files_per_partition, blocksize, fields, read_kwargs, file_extensions, storage_options, limit,
            use_manifest=use_manifest,
        )  # fmt: skip

    def make_reader_stage(self) -> ProcessingStage:
        return JsonlReaderStage(self.fields, self.storage_options, self.skip_malformed, self.read_kwargs)
