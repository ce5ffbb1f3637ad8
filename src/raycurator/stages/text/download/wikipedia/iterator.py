"""`WikipediaIterator`: the main-namespace articles of a MediaWiki XML dump (`.bz2` or plain)."""

from __future__ import annotations

import bz2
import logging
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import IO, Any
from urllib.parse import quote

from raycurator.stages.text.download.base.iterator import DocumentIterator
from raycurator.stages.text.download.base.skips import SkipReason

logger = logging.getLogger(__name__)


def _open(path: str) -> IO[bytes]:
    return bz2.open(path, "rb") if path.endswith(".bz2") else open(path, "rb")


class WikipediaIterator(DocumentIterator):
    """Yields `{title, id, url, language, source_id, raw_content}` per article, streaming the XML.

    Pages outside namespace 0, redirects and pages without text are skipped as `not_article`.
    """

    def __init__(self, language: str = "en", log_frequency: int = 1000) -> None:
        self._language = language
        self._log_frequency = log_frequency

    def output_columns(self) -> list[str]:
        return ["title", "id", "url", "language", "source_id", "raw_content"]

    def iterate(self, file_path: str) -> Iterator[dict[str, Any]]:
        source_id = os.path.basename(file_path)
        pages = 0
        with _open(file_path) as handle:
            for _, element in ET.iterparse(handle, events=("end",)):
                if not element.tag.endswith("page"):
                    continue
                pages += 1
                if pages % self._log_frequency == 0:
                    logger.debug("%d pages read from %s", pages, file_path)
                namespace = element.tag[: -len("page")]
                record = self._article(element, namespace, source_id)
                element.clear()
                if record is None:
                    self._count_skip(SkipReason.NOT_ARTICLE)
                    continue
                yield record

    def _article(self, page: ET.Element, ns: str, source_id: str) -> dict[str, Any] | None:
        title = page.findtext(f"{ns}title")
        page_ns = page.findtext(f"{ns}ns")
        page_id = page.findtext(f"{ns}id")
        text = page.findtext(f"{ns}revision/{ns}text")
        if not (title and page_ns and page_id) or page_ns != "0" or page.find(f"{ns}redirect") is not None:
            return None
        if not text:
            return None
        return {
            "title": title,
            "id": page_id,
            "url": f"https://{self._language}.wikipedia.org/wiki/{quote(title)}",
            "language": self._language,
            "source_id": source_id,
            "raw_content": text,
        }
