"""Counting records that an iterator or extractor skips, by reason."""

from __future__ import annotations

from collections import Counter
from enum import StrEnum


class SkipReason(StrEnum):
    """Why a record was dropped; the stage logs each as the metric `skipped.<reason>`."""

    CORRUPT_RECORD = "corrupt_record"  # unreadable compressed member, bad WARC header, wrong length
    NOT_HTML = "not_html"  # a payload whose content type is not HTML
    TOO_LARGE = "too_large"  # a payload over the size cap
    UNDECODABLE = "undecodable"  # bytes that decode in no detected charset
    UNSUPPORTED_LANGUAGE = "unsupported_language"  # no stop list for the detected language
    NO_TEXT = "no_text"  # the extractor found no main text
    TIMEOUT = "timeout"  # extraction ran past the per-record time limit
    EXTRACT_ERROR = "extract_error"  # the extractor raised
    NOT_ARTICLE = "not_article"  # wiki pages outside the main namespace, redirects, empty pages


class SkipCounter:
    """Mixin giving iterators and extractors a per-reason count of skipped records."""

    def _count_skip(self, reason: SkipReason | str, n: int = 1) -> None:
        """Count `n` records skipped for `reason`."""
        counts: Counter[str] = self.__dict__.setdefault("_skip_counts", Counter())
        counts[str(reason)] += n

    def consume_skips(self) -> dict[str, int]:
        """The counts since the last call (and reset them)."""
        counts = self.__dict__.pop("_skip_counts", None)
        return dict(counts) if counts else {}
