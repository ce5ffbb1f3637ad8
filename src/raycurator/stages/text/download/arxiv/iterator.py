"""`ArxivIterator`: the LaTeX sources of each paper in an arXiv source tarball.

The outer tarball holds one gzip file per paper: either a gzipped tar of the paper's project
or a single gzipped `.tex` file. Everything is read in memory (nothing is extracted to disk,
so member names cannot escape a folder).
"""

from __future__ import annotations

import gzip
import io
import logging
import os
import re
import tarfile
from collections.abc import Iterator
from typing import Any

from raycurator.stages.text.download.base.iterator import DocumentIterator
from raycurator.stages.text.download.base.skips import SkipReason

logger = logging.getLogger(__name__)

_ARXIV_ID = re.compile(r"^([a-zA-Z-]*)([\d.]+)$")


def format_arxiv_id(raw: str) -> str:
    """`hep-th0101001` → `hep-th/0101001` (old style); new-style ids (`2301.00001`) unchanged."""
    match = _ARXIV_ID.match(raw)
    if match is None:
        raise ValueError(f"not an arXiv id: {raw!r}")
    archive, number = match.groups()
    return f"{archive}/{number}" if archive else number


def tex_sources(data: bytes) -> list[str] | None:
    """The `.tex` files of one paper's gzip (a tar project or a single file); None if unreadable."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data)) as project:
            sources = []
            for member in project.getmembers():
                if member.isfile() and member.name.endswith(".tex"):
                    handle = project.extractfile(member)
                    if handle is not None:
                        sources.append(handle.read().decode("utf-8"))
            return sources
    except tarfile.ReadError:
        pass
    except (UnicodeDecodeError, OSError, EOFError):
        return None
    try:
        return [gzip.decompress(data).decode("utf-8")]
    except (UnicodeDecodeError, OSError, EOFError):
        return None


class ArxivIterator(DocumentIterator):
    """Yields `{id, source_id, content}` per paper, `content` being the list of its `.tex` sources.

    Papers whose sources cannot be read (not gzip, not UTF-8) are skipped as `corrupt_record`.
    """

    def __init__(self, log_frequency: int = 1000, extract_tmp_dir: str | None = None) -> None:
        self._log_frequency = log_frequency
        self._extract_tmp_dir = extract_tmp_dir  # accepted for compatibility: nothing is extracted to disk

    def output_columns(self) -> list[str]:
        return ["id", "source_id", "content"]

    def iterate(self, file_path: str) -> Iterator[dict[str, Any]]:
        source_id = os.path.basename(file_path)
        with tarfile.open(file_path) as archive:
            for count, member in enumerate(archive, start=1):
                if count % self._log_frequency == 0:
                    logger.debug("%d papers read from %s", count, file_path)
                if not member.isfile():
                    continue
                handle = archive.extractfile(member)
                sources = tex_sources(handle.read()) if handle is not None else None
                if sources is None:
                    self._count_skip(SkipReason.CORRUPT_RECORD)
                    continue
                raw_id = os.path.splitext(os.path.basename(member.name))[0]
                try:
                    paper_id = format_arxiv_id(raw_id)
                except ValueError:
                    paper_id = raw_id
                yield {"id": paper_id, "source_id": source_id, "content": sources}
