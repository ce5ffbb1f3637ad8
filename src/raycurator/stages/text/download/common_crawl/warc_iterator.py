"""`CommonCrawlWarcIterator`: the HTML responses of a WARC file, read with FastWARC.

FastWARC (Resiliparse's WARC reader, about a quarter faster than warcio on Common Crawl files)
reads gzip-per-record WARC files. Damage does not stop the file: when reading fails or stops
early (a corrupt or truncated gzip member, a bad WARC header, a record whose Content-Length
runs past its end), the iterator counts the record as `corrupt_record` and resumes at the next
record boundary (the next gzip member, or the next `WARC/1.` line of an uncompressed file).
"""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Iterator
from typing import Any

import fsspec
from fastwarc.warc import ArchiveIterator, WarcRecordType

from raycurator.stages.text.download.base.iterator import DocumentIterator
from raycurator.stages.text.download.base.skips import SkipReason

logger = logging.getLogger(__name__)

_GZIP_MAGIC = b"\x1f\x8b\x08"
_WARC_MAGIC = b"WARC/1."
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_SCAN_CHUNK = 1 << 20


class CommonCrawlWarcIterator(DocumentIterator):
    """Yields `{url, warc_id, source_id, content}` for each HTML response record.

    Records that are not responses are passed over; responses whose HTTP content type is not
    HTML are skipped as `not_html`, payloads over `max_content_bytes` as `too_large`.
    """

    def __init__(
        self, storage_options: dict[str, Any] | None = None, max_content_bytes: int | None = 10_000_000
    ) -> None:
        self.storage_options = dict(storage_options or {})
        self.max_content_bytes = max_content_bytes

    def output_columns(self) -> list[str]:
        return ["url", "warc_id", "source_id", "content"]

    def iterate(self, file_path: str) -> Iterator[dict[str, Any]]:
        source_id = posixpath.basename(str(file_path).rstrip("/"))
        with fsspec.open(str(file_path), "rb", **self.storage_options) as handle:
            magic = _GZIP_MAGIC if handle.read(2) == _GZIP_MAGIC[:2] else _WARC_MAGIC
            position: int | None = 0
            while position is not None:
                handle.seek(position)
                last_start: int | None = None
                try:
                    for record in ArchiveIterator(handle, parse_http=False):
                        last_start = record.stream_pos
                        row = self._read_record(record, source_id)
                        if row is not None:
                            yield row
                except OSError as error:
                    logger.warning(
                        "%s: unreadable WARC data after offset %s: %s", file_path, last_start or position, error
                    )
                if last_start is None:
                    # nothing readable from `position`: that record is lost, try the next boundary
                    if _has_data(handle, position):
                        self._count_skip(SkipReason.CORRUPT_RECORD)
                    position = _find(handle, magic, position + 1)
                else:
                    position = _find(handle, magic, last_start + 1)

    def _read_record(self, record: Any, source_id: str) -> dict[str, Any] | None:
        if record.record_type != WarcRecordType.response:
            return None
        try:
            record.parse_http()
        except Exception:
            self._count_skip(SkipReason.CORRUPT_RECORD)
            return None
        content_type = (record.http_content_type or "").lower()
        if content_type and not content_type.startswith(_HTML_TYPES):
            self._count_skip(SkipReason.NOT_HTML)
            return None
        if self.max_content_bytes is not None and record.content_length > self.max_content_bytes:
            self._count_skip(SkipReason.TOO_LARGE)
            return None
        content = record.reader.read()
        if len(content) != record.content_length:
            self._count_skip(SkipReason.CORRUPT_RECORD)  # Content-Length disagrees with the data
            return None
        record_id = record.record_id or ""
        return {
            "url": record.headers.get("WARC-Target-URI"),
            "warc_id": record_id[10:-1] if record_id.startswith("<urn:uuid:") else record_id.strip("<>"),
            "source_id": source_id,
            "content": content,
        }


def _has_data(handle: Any, position: int) -> bool:
    handle.seek(position)
    return bool(handle.read(1))


def _find(handle: Any, marker: bytes, start: int) -> int | None:
    """The offset of the next `marker` at or after `start`, or None."""
    handle.seek(start)
    offset = start
    tail = b""
    while True:
        chunk = handle.read(_SCAN_CHUNK)
        if not chunk:
            return None
        data = tail + chunk
        found = data.find(marker)
        if found >= 0:
            return offset - len(tail) + found
        tail = data[-(len(marker) - 1) :]
        offset += len(chunk)
