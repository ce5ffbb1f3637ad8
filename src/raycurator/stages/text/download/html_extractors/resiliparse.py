"""Resiliparse HTML2Text with a stop-word density filter on its paragraphs."""

from __future__ import annotations

from resiliparse.extract.html2text import extract_plain_text

from raycurator.stages.text.download.html_extractors.base import HTMLExtractorAlgorithm, keep_dense_paragraphs


class ResiliparseExtractor(HTMLExtractorAlgorithm):
    """Resiliparse's fast rule-based text extraction (https://resiliparse.chatnoir.eu), NeMo Curator's defaults.

    `main_content=True` applies Resiliparse's main-content heuristics; each resulting
    paragraph is kept when at least `required_stopword_density` of its words are stop words
    (all are kept for languages written without spaces).
    """

    def __init__(
        self, required_stopword_density: float = 0.32, main_content: bool = True, alt_texts: bool = False
    ) -> None:
        self.required_stopword_density = required_stopword_density
        self.main_content = main_content
        self.alt_texts = alt_texts

    def extract_text(self, html: str, stop_words: frozenset[str], language: str) -> list[str] | None:
        text = extract_plain_text(html, main_content=self.main_content, alt_texts=self.alt_texts)
        paragraphs = [line for line in text.split("\n") if line]
        return keep_dense_paragraphs(paragraphs, stop_words, language, self.required_stopword_density)
