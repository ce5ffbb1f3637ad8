"""jusText: paragraph classification by length, link density and stop-word density."""

from __future__ import annotations

import logging

import justext
import lxml.sax

from raycurator.stages.text.download.html_extractors.base import HTMLExtractorAlgorithm

logger = logging.getLogger(__name__)


class JusTextExtractor(HTMLExtractorAlgorithm):
    """jusText (https://corpus.tools/wiki/Justext) with NeMo Curator's defaults.

    Paragraphs are classified context-free (length, stop-word density, link density), then
    revised by their neighbours; the non-boilerplate ones are kept. `is_boilerplate=None`
    keeps every paragraph for languages written without spaces (Thai, Chinese, Japanese,
    Korean), whose stop-word densities jusText's thresholds do not fit.
    """

    def __init__(
        self,
        length_low: int = 70,
        length_high: int = 200,
        stopwords_low: float = 0.30,
        stopwords_high: float = 0.32,
        max_link_density: float = 0.2,
        max_heading_distance: int = 200,
        no_headings: bool = False,
        is_boilerplate: bool | None = None,
    ) -> None:
        self.length_low = length_low
        self.length_high = length_high
        self.stopwords_low = stopwords_low
        self.stopwords_high = stopwords_high
        self.max_link_density = max_link_density
        self.max_heading_distance = max_heading_distance
        self.no_headings = no_headings
        self.is_boilerplate = is_boilerplate

    def extract_text(self, html: str, stop_words: frozenset[str], language: str) -> list[str] | None:
        try:
            dom = justext.core.preprocessor(justext.core.html_to_dom(html))
            maker = justext.core.ParagraphMaker()
            lxml.sax.saxify(dom, maker)
        except Exception as error:  # lxml raises several types on broken markup
            logger.debug("jusText could not segment a page: %s", error)
            return None
        paragraphs = maker.paragraphs
        justext.core.classify_paragraphs(
            paragraphs,
            stop_words,
            self.length_low,
            self.length_high,
            self.stopwords_low,
            self.stopwords_high,
            self.max_link_density,
            self.no_headings,
        )
        for paragraph in paragraphs:
            paragraph.class_type = paragraph.cf_class
        justext.core.revise_paragraph_classification(paragraphs, self.max_heading_distance)
        drop_boilerplate = self.is_boilerplate
        if drop_boilerplate is None:
            drop_boilerplate = language not in self.NON_SPACED_LANGUAGES
        if drop_boilerplate:
            return [p.text for p in paragraphs if not p.is_boilerplate]
        return [p.text for p in paragraphs]
