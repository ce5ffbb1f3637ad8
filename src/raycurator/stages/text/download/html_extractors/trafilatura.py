"""Trafilatura with NeMo Curator's settings and a stop-word density filter on its paragraphs."""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from trafilatura import extract
from trafilatura.settings import DEFAULT_CONFIG

from raycurator.stages.text.download.html_extractors.base import HTMLExtractorAlgorithm, keep_dense_paragraphs


class TrafilaturaExtractor(HTMLExtractorAlgorithm):
    """Trafilatura (https://trafilatura.readthedocs.io) main-text extraction, NeMo Curator's defaults.

    The size settings go to Trafilatura's configuration (`MIN_EXTRACTED_SIZE`, ...);
    `extract_kwargs` go to `trafilatura.extract` (`deduplicate` defaults to True). Each
    paragraph is then kept when at least `required_stopword_density` of its words are stop words.
    """

    def __init__(
        self,
        required_stopword_density: float = 0.32,
        min_extracted_size: int = 250,
        min_extracted_comm_size: int = 1,
        min_output_size: int = 1,
        min_output_comm_size: int = 1,
        max_tree_size: int | None = None,
        min_duplcheck_size: int = 100,
        max_repetitions: int = 2,
        **extract_kwargs: Any,
    ) -> None:
        self.required_stopword_density = required_stopword_density
        self.min_extracted_size = min_extracted_size
        self.min_extracted_comm_size = min_extracted_comm_size
        self.min_output_size = min_output_size
        self.min_output_comm_size = min_output_comm_size
        self.max_tree_size = max_tree_size
        self.min_duplcheck_size = min_duplcheck_size
        self.max_repetitions = max_repetitions
        self.extract_kwargs = {"deduplicate": True, **extract_kwargs}
        self._config: Any = None

    def _trafilatura_config(self) -> Any:
        if self._config is None:
            config = deepcopy(DEFAULT_CONFIG)
            section = config["DEFAULT"]
            section["MIN_EXTRACTED_SIZE"] = str(self.min_extracted_size)
            section["MIN_EXTRACTED_COMM_SIZE"] = str(self.min_extracted_comm_size)
            section["MIN_OUTPUT_SIZE"] = str(self.min_output_size)
            section["MIN_OUTPUT_COMM_SIZE"] = str(self.min_output_comm_size)
            if self.max_tree_size:
                section["MAX_TREE_SIZE"] = str(self.max_tree_size)
            section["MIN_DUPLCHECK_SIZE"] = str(self.min_duplcheck_size)
            section["MAX_REPETITIONS"] = str(self.max_repetitions)
            self._config = config
        return self._config

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_config"] = None  # rebuilt on first use in each worker
        return state

    def extract_text(self, html: str, stop_words: frozenset[str], language: str) -> list[str] | None:
        text = extract(html, config=self._trafilatura_config(), **self.extract_kwargs)
        if text is None:
            return None
        paragraphs = [line for line in text.split("\n") if line]
        return keep_dense_paragraphs(paragraphs, stop_words, language, self.required_stopword_density) or None
