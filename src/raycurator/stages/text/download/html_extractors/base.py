"""`HTMLExtractorAlgorithm`: the interface of the main-text extraction algorithms."""

from __future__ import annotations

from abc import ABC, abstractmethod


class HTMLExtractorAlgorithm(ABC):
    """Extracts the main-text paragraphs of an HTML page, given the page language's stop words."""

    #: Languages written without spaces between words (stop-word density is not measured for them).
    NON_SPACED_LANGUAGES = frozenset(["THAI", "CHINESE", "JAPANESE", "KOREAN"])

    @abstractmethod
    def extract_text(self, html: str, stop_words: frozenset[str], language: str) -> list[str] | None:
        """The page's main-text paragraphs (None or an empty list: no main text)."""


def keep_dense_paragraphs(
    paragraphs: list[str], stop_words: frozenset[str], language: str, required_density: float
) -> list[str]:
    """The paragraphs whose share of stop words is at least `required_density` (all, for non-spaced languages)."""
    if language in HTMLExtractorAlgorithm.NON_SPACED_LANGUAGES:
        return list(paragraphs)
    kept = []
    for paragraph in paragraphs:
        words = paragraph.split()
        if words and sum(map(stop_words.__contains__, words)) / len(words) >= required_density:
            kept.append(paragraph)
    return kept
