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
import zlib
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
            counted_at: int | None = None  # a boundary whose unreadable record is already counted
            while position is not None:
                handle.seek(position)
                last_start: int | None = None
                failed = False
                try:
                    for record in ArchiveIterator(handle, parse_http=False):
                        last_start = record.stream_pos
                        row = self._read_record(record, source_id)
                        if row is not None:
                            yield row
                except OSError as error:
                    failed = True
                    logger.warning(
                        "%s: unreadable WARC data after offset %s: %s", file_path, last_start or position, error
                    )
                if last_start is None:
                    # nothing readable from `position`: count that record unless it is already
                    # counted, or the boundary was a false match inside a record read before
                    unseen = position != counted_at and _has_data(handle, position)
                    if unseen and (failed or _starts_record(handle, position, magic)):
                        self._count_skip(SkipReason.CORRUPT_RECORD)
                    position = _find(handle, magic, position + 1)
                else:
                    position = _find(handle, magic, last_start + 1)
                    if failed:  # the record after `last_start` (or its own data) is unreadable
                        self._count_skip(SkipReason.CORRUPT_RECORD)
                        counted_at = position

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


def _starts_record(handle: Any, offset: int, marker: bytes) -> bool:
    """Whether a record starts at `offset`: a valid gzip header whose data begins with (or, cut
    short, could begin with) `WARC/`, or a `WARC/1.` line; not the same bytes met by chance
    inside compressed data or a page's text."""
    handle.seek(max(0, offset - 1))
    head = handle.read(4097 if offset else 4096)
    if offset:
        previous, head = head[:1], head[1:]
    if marker == _WARC_MAGIC:
        return offset == 0 or previous == b"\n"
    if len(head) < 10 or head[3] & 0xE0 or head[8] not in (0, 2, 4) or (head[9] > 13 and head[9] != 255):
        return False  # reserved flag bits, extra-flags and OS bytes of a real gzip header
    try:
        out = zlib.decompressobj(31).decompress(head, 16)[:5]  # a cut member may yield only a few bytes
    except zlib.error:
        return False
    return b"WARC/".startswith(out)


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
