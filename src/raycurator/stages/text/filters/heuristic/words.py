"""Word-level filters. Words are whitespace-separated tokens, as `str.split()` gives them."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from raycurator.stages.text._arrow_text import char_lengths, count_chars, safe_ratio, word_counts
from raycurator.stages.text.filters.heuristic._base import (
    MaxScoreFilter,
    MinScoreFilter,
    VectorizedFilter,
    check_language,
    check_positive,
)

#: Gopher's English stop words: a document should contain at least two of them.
COMMON_ENGLISH_WORDS = frozenset({"the", "be", "to", "of", "and", "that", "have", "with"})


class WordCountFilter(VectorizedFilter):
    """Keeps documents with `min_words` <= number of words <= `max_words` (Gopher: 50..100000)."""

    def __init__(self, min_words: int = 50, max_words: int = 100000, lang: str = "en") -> None:
        super().__init__()
        check_positive(type(self).__name__, min_words=min_words, max_words=max_words)
        if min_words > max_words:
            raise ValueError(f"WordCountFilter: min_words ({min_words}) exceeds max_words ({max_words})")
        check_language(type(self).__name__, lang)
        self._min_words = min_words
        self._max_words = max_words
        self._name = "word_count"

    def _scores(self, texts: pa.Array) -> np.ndarray:
        return word_counts(texts).astype(np.float64)

    def _keep(self, scores: np.ndarray) -> np.ndarray:
        return (scores >= self._min_words) & (scores <= self._max_words)


class MeanWordLengthFilter(VectorizedFilter):
    """Keeps documents whose mean word length (characters) is within bounds (Gopher: 3..10).

    Score: non-whitespace characters / words, i.e. the mean of `len(w)` over `text.split()`
    (0.0 for a document without words).
    """

    def __init__(self, min_mean_word_length: float = 3, max_mean_word_length: float = 10, lang: str = "en") -> None:
        super().__init__()
        check_positive(
            type(self).__name__, min_mean_word_length=min_mean_word_length, max_mean_word_length=max_mean_word_length
        )
        check_language(type(self).__name__, lang)
        self._min_cutoff = min_mean_word_length
        self._max_cutoff = max_mean_word_length
        self._name = "mean_word_length"

    def _scores(self, texts: pa.Array) -> np.ndarray:
        word_chars = char_lengths(texts) - count_chars(texts, "space")
        return safe_ratio(word_chars, word_counts(texts))

    def _keep(self, scores: np.ndarray) -> np.ndarray:
        return (scores >= self._min_cutoff) & (scores <= self._max_cutoff)


class LongWordFilter(MaxScoreFilter):
    """Removes documents containing a word longer than `max_word_length` characters.

    Score: the length of the longest word (0 without words).
    """

    def __init__(self, max_word_length: int = 1000, lang: str = "en") -> None:
        super().__init__()
        check_positive(type(self).__name__, max_word_length=max_word_length)
        check_language(type(self).__name__, lang)
        self._cutoff = max_word_length
        self._name = "max_word_length"

    def score_document(self, text: str) -> float:
        return float(max((len(word) for word in text.split()), default=0))


class CommonEnglishWordsFilter(MinScoreFilter):
    """Keeps documents containing at least `min_num_common_words` English stop words (Gopher).

    Score: how many words (lower-cased, surrounding punctuation stripped) are among
    `COMMON_ENGLISH_WORDS`; with `stop_at_false=True` counting stops at the minimum.
    """

    _PUNCTUATION = "\"'\u201c\u201d\u2018\u2019.,;:!?()[]{}<>\u00ab\u00bb-\u2013\u2014*_"

    def __init__(self, min_num_common_words: int = 2, stop_at_false: bool = True) -> None:
        super().__init__()
        check_positive(type(self).__name__, min_num_common_words=min_num_common_words)
        self._cutoff = self._min_num_common_words = min_num_common_words
        self._stop_at_false = stop_at_false
        self._name = "common_english_words"

    def score_document(self, text: str) -> float:
        count = 0
        for word in text.split():
            if word.strip(self._PUNCTUATION).lower() in COMMON_ENGLISH_WORDS:
                count += 1
                if self._stop_at_false and count >= self._min_num_common_words:
                    break
        return float(count)


class WordsWithoutAlphabetsFilter(MinScoreFilter):
    """Keeps documents where enough words contain a letter (Gopher: 80%).

    Score: words with at least one `str.isalpha()` character / words (0.0 without words).
    """

    def __init__(self, min_words_with_alphabets: float = 0.8, lang: str = "en") -> None:
        super().__init__()
        check_positive(type(self).__name__, min_words_with_alphabets=min_words_with_alphabets)
        check_language(type(self).__name__, lang)
        self._cutoff = min_words_with_alphabets
        self._name = "words_with_alphabets"

    def score_document(self, text: str) -> float:
        words = text.split()
        if not words:
            return 0.0
        return sum(any(c.isalpha() for c in word) for word in words) / len(words)
