"""Shared pieces of the heuristic filters: vectorised base class, thresholds, text splitting."""

from __future__ import annotations

import re
from abc import abstractmethod
from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa

from raycurator.stages.text._arrow_text import to_string_array
from raycurator.stages.text.filters.doc_filter import DocumentFilter

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_SEGMENTED_LANGUAGES = frozenset({"zh", "ja", "th", "my", "km", "lo"})


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


def check_language(owner: str, lang: str) -> None:
    """Word splitting is by whitespace: refuse languages written without spaces."""
    if lang in _SEGMENTED_LANGUAGES:
        raise NotImplementedError(f"{owner}: lang={lang!r} needs a word segmenter; words are split on whitespace here")


def nonempty_lines(text: str) -> list[str]:
    """The lines of `text` (split on "\\n"), stripped, without blank ones."""
    return [line for line in (raw.strip() for raw in text.split("\n")) if line]


def nonempty_paragraphs(text: str) -> list[str]:
    """The paragraphs of `text` (separated by blank lines), stripped, without empty ones."""
    return [p for p in (raw.strip() for raw in _PARAGRAPH_BREAK.split(text)) if p]


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
