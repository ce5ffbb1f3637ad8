"""`CommonCrawlHTMLExtractor`: HTML bytes → decoded page → language → main text."""

from __future__ import annotations

import logging
from typing import Any

from raycurator.stages.text.download.base.extract import DocumentExtractor
from raycurator.stages.text.download.base.skips import SkipReason
from raycurator.stages.text.download.html_extractors import (
    HTMLExtractorAlgorithm,
    JusTextExtractor,
    ResiliparseExtractor,
    TrafilaturaExtractor,
)
from raycurator.stages.text.download.html_extractors.utils import get_stop_list_dict
from raycurator.stages.text.download.utils import decode_html, lang_detect

logger = logging.getLogger(__name__)

#: The algorithms that `html_extraction` may name.
ALGORITHMS: dict[str, type[HTMLExtractorAlgorithm]] = {
    "justext": JusTextExtractor,
    "resiliparse": ResiliparseExtractor,
    "trafilatura": TrafilaturaExtractor,
}


def make_algorithm(
    algorithm: HTMLExtractorAlgorithm | str | None, kwargs: dict[str, Any] | None
) -> HTMLExtractorAlgorithm:
    """The algorithm object for `algorithm` (an instance, a name from `ALGORITHMS`, or None for jusText)."""
    kwargs = dict(kwargs or {})
    if algorithm is None:
        return JusTextExtractor(**kwargs)
    if isinstance(algorithm, str):
        if algorithm not in ALGORITHMS:
            raise ValueError(f"unknown html_extraction '{algorithm}'; valid: {', '.join(ALGORITHMS)}")
        return ALGORITHMS[algorithm](**kwargs)
    if isinstance(algorithm, HTMLExtractorAlgorithm):
        if kwargs:
            logger.warning("html_extraction_kwargs are ignored when an HTMLExtractorAlgorithm object is given")
        return algorithm
    raise ValueError(
        f"html_extraction must be an HTMLExtractorAlgorithm or one of {list(ALGORITHMS)}, got {algorithm!r}"
    )


class CommonCrawlHTMLExtractor(DocumentExtractor):
    """Turns `{url, warc_id, source_id, content}` into `{url, warc_id, source_id, language, text}`.

    The bytes are decoded (UTF-8, else the detected charset), the language detected with CLD2,
    and the algorithm run with that language's stop list; paragraphs are joined by blank lines.
    Skips are counted: `undecodable`, `unsupported_language` (no stop list), `no_text`.
    """

    def __init__(
        self,
        algorithm: HTMLExtractorAlgorithm | str | None = None,
        algorithm_kwargs: dict[str, Any] | None = None,
        stop_lists: dict[str, frozenset[str]] | None = None,
    ) -> None:
        self.algorithm = make_algorithm(algorithm, algorithm_kwargs)
        self._stop_lists = stop_lists if stop_lists is not None else get_stop_list_dict()

    def input_columns(self) -> list[str]:
        return ["url", "warc_id", "source_id", "content"]

    def output_columns(self) -> list[str]:
        return ["url", "warc_id", "source_id", "language", "text"]

    def extract(self, record: dict[str, Any]) -> dict[str, Any] | None:
        content = record.get("content")
        if not content:
            self._count_skip(SkipReason.NO_TEXT)
            return None
        html = decode_html(content) if isinstance(content, bytes) else content
        if html is None:
            self._count_skip(SkipReason.UNDECODABLE)
            return None
        language = lang_detect(html)
        stop_words = self._stop_lists.get(language)
        if stop_words is None:
            self._count_skip(SkipReason.UNSUPPORTED_LANGUAGE)
            return None
        paragraphs = self.algorithm.extract_text(html, stop_words, language)
        if not paragraphs:
            self._count_skip(SkipReason.NO_TEXT)
            return None
        return {
            "url": record["url"],
            "warc_id": record["warc_id"],
            "source_id": record["source_id"],
            "language": language,
            "text": "\n\n".join(paragraphs),
        }
