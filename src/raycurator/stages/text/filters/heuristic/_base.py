"""Shared pieces of the heuristic filters: vectorised base class, thresholds, text splitting."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa

from raycurator.stages.text._arrow_text import to_string_array
from raycurator.stages.text.filters.doc_filter import DocumentFilter
from raycurator.stages.text.utils.text_utils import WordSplitter, get_word_splitter


class VectorizedFilter(DocumentFilter):
    """A filter computed on whole Arrow arrays; the scalar methods run a batch of one."""

    @abstractmethod
    def _scores(self, texts: pa.Array) -> np.ndarray:
        """Scores of a (null-free) string array as float64."""

    @abstractmethod
    def _keep(self, scores: np.ndarray) -> np.ndarray:
        """Keep decisions of a float64 score array."""

    def score_documents(self, texts: pa.Array | pa.ChunkedArray | Iterable[str]) -> np.ndarray:
        return self._scores(to_string_array(texts))

    def keep_documents(self, scores: np.ndarray | Iterable[Any]) -> np.ndarray:
        return self._keep(np.asarray(scores, dtype=np.float64))

    def score_document(self, text: str) -> float:
        return float(self.score_documents(pa.array([text], type=pa.string()))[0])

    def keep_document(self, score: float) -> bool:
        return bool(self._keep(np.asarray([score], dtype=np.float64))[0])


def check_positive(owner: str, **values: float) -> None:
    """Raise a ValueError naming `owner` and the parameter when a value is negative."""
    for name, value in values.items():
        if value is None or value < 0:
            raise ValueError(f"{owner}: {name} must be a non-negative number, got {value!r}")


def is_whitespace_language(lang: str) -> bool:
    """Whether words of `lang` are whitespace-separated here (everything but "zh" and "ja")."""
    return lang.lower() not in ("zh", "ja")


def word_splitter(lang: str) -> WordSplitter:
    """The word splitter of `lang` (jieba for Chinese, MeCab for Japanese, whitespace otherwise)."""
    if not isinstance(lang, str) or not lang:
        raise ValueError(f"lang must be an ISO 639-1 code such as 'en', got {lang!r}")
    return get_word_splitter(lang)


def nonempty_lines(text: str) -> list[str]:
    """The lines of `text` (split on "\\n"), stripped, without blank ones."""
    return [line for line in (raw.strip() for raw in text.split("\n")) if line]


class MaxScoreFilter(DocumentFilter):
    """Keeps documents whose score is at most `self._cutoff`."""

    _cutoff: float

    def keep_document(self, score: float) -> bool:
        return score <= self._cutoff

    def keep_documents(self, scores: np.ndarray | Iterable[Any]) -> np.ndarray:
        return np.asarray(scores, dtype=np.float64) <= self._cutoff


class MinScoreFilter(DocumentFilter):
    """Keeps documents whose score is at least `self._cutoff`."""

    _cutoff: float

    def keep_document(self, score: float) -> bool:
        return score >= self._cutoff

    def keep_documents(self, scores: np.ndarray | Iterable[Any]) -> np.ndarray:
        return np.asarray(scores, dtype=np.float64) >= self._cutoff
