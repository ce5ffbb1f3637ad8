"""Character-ratio filters (Gopher / C4 / FineWeb families), vectorised over Arrow arrays.

Ratios are per character (Unicode code points); a document with no characters scores 0.0
unless a class says otherwise.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from raycurator.stages.text._arrow_text import (
    char_lengths,
    count_chars,
    count_substring,
    safe_ratio,
    word_counts,
)
from raycurator.stages.text._patterns import URL_PATTERN
from raycurator.stages.text.filters.heuristic._base import VectorizedFilter, check_language, check_positive


class NonAlphaNumericFilter(VectorizedFilter):
    """Removes documents whose share of non-alphanumeric characters exceeds the limit.

    Score: characters that are not `str.isalnum()` / all characters (1.0 for empty text).
    """

    def __init__(self, max_non_alpha_numeric_to_text_ratio: float = 0.25) -> None:
        super().__init__()
        check_positive(type(self).__name__, max_non_alpha_numeric_to_text_ratio=max_non_alpha_numeric_to_text_ratio)
        self._cutoff = max_non_alpha_numeric_to_text_ratio
        self._name = "alpha_numeric"

    def _scores(self, texts: pa.Array) -> np.ndarray:
        lengths = char_lengths(texts)
        return safe_ratio(lengths - count_chars(texts, "alnum"), lengths, empty_value=1.0)

    def _keep(self, scores: np.ndarray) -> np.ndarray:
        return scores <= self._cutoff


class SymbolsToWordsFilter(VectorizedFilter):
    """Removes documents with too many hash symbols and ellipses per word (Gopher).

    Score: occurrences of "#", "..." and "…" / number of whitespace-separated words.
    """

    SYMBOLS = ("#", "...", "…")

    def __init__(self, max_symbol_to_word_ratio: float = 0.1, lang: str = "en") -> None:
        super().__init__()
        check_positive(type(self).__name__, max_symbol_to_word_ratio=max_symbol_to_word_ratio)
        check_language(type(self).__name__, lang)
        self._cutoff = max_symbol_to_word_ratio
        self._name = "symbol_to_word"

    def _scores(self, texts: pa.Array) -> np.ndarray:
        symbols = sum(count_substring(texts, s) for s in self.SYMBOLS)
        return safe_ratio(symbols, word_counts(texts))

    def _keep(self, scores: np.ndarray) -> np.ndarray:
        return scores <= self._cutoff


class NumbersFilter(VectorizedFilter):
    """Removes documents that are mostly digits.

    Score: decimal digits (`str.isdecimal()`) / all characters.
    """

    def __init__(self, max_number_to_text_ratio: float = 0.15) -> None:
        super().__init__()
        check_positive(type(self).__name__, max_number_to_text_ratio=max_number_to_text_ratio)
        self._cutoff = max_number_to_text_ratio
        self._name = "numbers_ratio"

    def _scores(self, texts: pa.Array) -> np.ndarray:
        return safe_ratio(count_chars(texts, "decimal"), char_lengths(texts))

    def _keep(self, scores: np.ndarray) -> np.ndarray:
        return scores <= self._cutoff


class UrlsFilter(VectorizedFilter):
    """Removes documents that are mostly URLs.

    Score: characters inside URLs (`URL_PATTERN`) / all characters.
    """

    def __init__(self, max_url_to_text_ratio: float = 0.2) -> None:
        super().__init__()
        check_positive(type(self).__name__, max_url_to_text_ratio=max_url_to_text_ratio)
        self._cutoff = max_url_to_text_ratio
        self._name = "urls_ratio"

    def _scores(self, texts: pa.Array) -> np.ndarray:
        lengths = char_lengths(texts)
        without_urls = char_lengths(pc.replace_substring_regex(texts, URL_PATTERN, ""))
        return safe_ratio(lengths - without_urls, lengths)

    def _keep(self, scores: np.ndarray) -> np.ndarray:
        return scores <= self._cutoff


class WhiteSpaceFilter(VectorizedFilter):
    """Removes documents made mostly of whitespace.

    Score: whitespace characters (`str.isspace()`) / all characters.
    """

    def __init__(self, max_white_space_ratio: float = 0.25) -> None:
        super().__init__()
        check_positive(type(self).__name__, max_white_space_ratio=max_white_space_ratio)
        self._cutoff = max_white_space_ratio
        self._name = "white_space"

    def _scores(self, texts: pa.Array) -> np.ndarray:
        return safe_ratio(count_chars(texts, "space"), char_lengths(texts))

    def _keep(self, scores: np.ndarray) -> np.ndarray:
        return scores <= self._cutoff


class ParenthesesFilter(VectorizedFilter):
    """Removes documents with too many parentheses and brackets.

    Score: characters among "()[]" / all characters.
    """

    BRACKETS = ("(", ")", "[", "]")

    def __init__(self, max_parentheses_ratio: float = 0.1) -> None:
        super().__init__()
        check_positive(type(self).__name__, max_parentheses_ratio=max_parentheses_ratio)
        self._cutoff = max_parentheses_ratio
        self._name = "parentheses_ratio"

    def _scores(self, texts: pa.Array) -> np.ndarray:
        brackets = sum(count_substring(texts, b) for b in self.BRACKETS)
        return safe_ratio(brackets, char_lengths(texts))

    def _keep(self, scores: np.ndarray) -> np.ndarray:
        return scores <= self._cutoff
