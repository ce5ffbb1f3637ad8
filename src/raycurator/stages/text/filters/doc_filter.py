"""`DocumentFilter`: scores a document and decides from the score whether to keep it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa

from raycurator.stages.text._arrow_text import python_texts


class DocumentFilter(ABC):
    """A document-level filter: `score_document(text)` then `keep_document(score)`.

    Subclasses implement the two scalar methods. Filters that can work on a whole batch at
    once also override `score_documents` / `keep_documents` (Arrow string array in, NumPy
    array out); the defaults loop over the scalar methods. Filters must be picklable.
    """

    def __init__(self) -> None:
        self._name = type(self).__name__

    @property
    def name(self) -> str:
        """The filter's name (used for score columns and metrics)."""
        return getattr(self, "_name", None) or type(self).__name__

    @abstractmethod
    def score_document(self, text: str) -> float | Any:
        """The score of one document."""

    @abstractmethod
    def keep_document(self, score: float | Any) -> bool:
        """Whether a document with this score is kept."""

    def score_documents(self, texts: pa.Array | pa.ChunkedArray | Iterable[str]) -> np.ndarray:
        """Scores of many documents (default: `score_document` on each)."""
        scores = [self.score_document(text) for text in python_texts(texts)]
        return _as_array(scores)

    def keep_documents(self, scores: np.ndarray | Iterable[Any]) -> np.ndarray:
        """Keep decisions (bool array) for many scores (default: `keep_document` on each)."""
        return np.fromiter((bool(self.keep_document(s)) for s in scores), dtype=bool)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _as_array(values: list[Any]) -> np.ndarray:
    """A float array when every value is a real number, an object array otherwise."""
    if all(isinstance(v, int | float | np.number) and not isinstance(v, bool) for v in values):
        return np.asarray(values, dtype=np.float64)
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array
