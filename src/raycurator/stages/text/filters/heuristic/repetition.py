"""Gopher's repetition filters with NeMo Curator 1.4's exact scores.

Lines are the non-blank lines (unstripped) and paragraphs the pieces between "\\n\\n", as
in NeMo Curator. The line / paragraph scores are the share that *survives* de-duplication
(1.0 = nothing repeated) and a document is kept when the score is at least the given value:
`RepeatedLinesFilter(0.7)` is Gopher's "at most 30% duplicate lines". Where NeMo Curator
divides by zero (no lines, or no characters) the score is NaN and the document is removed.
"""

from __future__ import annotations

import math

from raycurator.stages.text.filters.heuristic._base import (
    MaxScoreFilter,
    MinScoreFilter,
    check_positive,
    word_splitter,
)
from raycurator.stages.text.utils.text_utils import get_ngrams, get_paragraphs, get_sentences

#: Gopher's limits for the top n-gram character share, by n.
GOPHER_TOP_NGRAM_RATIOS = {2: 0.20, 3: 0.18, 4: 0.16}
#: Gopher's limits for the duplicated n-gram character share, by n.
GOPHER_DUPLICATE_NGRAM_RATIOS = {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}


def _unique_fraction(parts: list[str]) -> float:
    return len(set(parts)) / len(parts) if parts else math.nan


def _unique_char_fraction(parts: list[str]) -> float:
    total = sum(map(len, parts))
    return sum(map(len, set(parts))) / total if total else math.nan


class RepeatedLinesFilter(MinScoreFilter):
    """Score: distinct non-blank lines / non-blank lines; kept when >= `max_repeated_line_fraction`."""

    def __init__(self, max_repeated_line_fraction: float = 0.7) -> None:
        super().__init__()
        check_positive(type(self).__name__, max_repeated_line_fraction=max_repeated_line_fraction)
        self._cutoff = max_repeated_line_fraction
        self._name = "repeated_lines"

    def score_document(self, text: str) -> float:
        return _unique_fraction(get_sentences(text))


class RepeatedParagraphsFilter(MinScoreFilter):
    """Score: distinct paragraphs / paragraphs; kept when >= `max_repeated_paragraphs_ratio`."""

    def __init__(self, max_repeated_paragraphs_ratio: float = 0.7) -> None:
        super().__init__()
        check_positive(type(self).__name__, max_repeated_paragraphs_ratio=max_repeated_paragraphs_ratio)
        self._cutoff = self._max_repeated_paragraphs_ratio = max_repeated_paragraphs_ratio
        self._name = "repeated_paragraphs"

    def score_document(self, text: str) -> float:
        return _unique_fraction(get_paragraphs(text))


class RepeatedLinesByCharFilter(MinScoreFilter):
    """Score: characters of distinct lines / characters of all non-blank lines (newlines not counted)."""

    def __init__(self, max_repeated_lines_char_ratio: float = 0.8) -> None:
        super().__init__()
        check_positive(type(self).__name__, max_repeated_lines_char_ratio=max_repeated_lines_char_ratio)
        self._cutoff = max_repeated_lines_char_ratio
        self._name = "repeated_lines_char"

    def score_document(self, text: str) -> float:
        return _unique_char_fraction(get_sentences(text))


class RepeatedParagraphsByCharFilter(MinScoreFilter):
    """Score: characters of distinct paragraphs / characters of all paragraphs."""

    def __init__(self, max_repeated_paragraphs_char_ratio: float = 0.8) -> None:
        super().__init__()
        check_positive(type(self).__name__, max_repeated_paragraphs_char_ratio=max_repeated_paragraphs_char_ratio)
        self._cutoff = max_repeated_paragraphs_char_ratio
        self._name = "repeated_paragraphs_char"

    def score_document(self, text: str) -> float:
        return _unique_char_fraction(get_paragraphs(text))


class RepeatingTopNGramsFilter(MaxScoreFilter):
    """Removes documents dominated by their most frequent word n-gram (Gopher: n=2..4).

    The most frequent n-gram, joined with single spaces, is deleted from the text; score:
    characters deleted / characters (1.0 with fewer than `n` words or an empty text).
    NeMo Curator breaks ties between equally frequent n-grams by set iteration order, which
    depends on Python's string hashing and so varies between processes; here the tie goes to
    the n-gram that occurs first, so scores are reproducible (and equal NeMo Curator's
    whenever the top n-gram is unique).
    """

    def __init__(self, n: int = 2, max_repeating_ngram_ratio: float = 0.2, lang: str = "en") -> None:
        super().__init__()
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"RepeatingTopNGramsFilter: n must be a positive integer, got {n!r}")
        check_positive(type(self).__name__, max_repeating_ngram_ratio=max_repeating_ngram_ratio)
        self._n = n
        self._cutoff = max_repeating_ngram_ratio
        self._word_splitter = word_splitter(lang)
        self._name = f"repeating_top_{n}grams"

    def score_document(self, text: str) -> float:
        words = self._word_splitter(text.strip())
        if len(words) < self._n or not text:
            return 1.0
        counts: dict[tuple[str, ...], int] = {}
        for gram in get_ngrams(words, self._n):
            counts[gram] = counts.get(gram, 0) + 1
        top = max(counts, key=counts.__getitem__)  # first inserted among the most frequent
        return (len(text) - len(text.replace(" ".join(top), ""))) / len(text)


class RepeatingDuplicateNGramsFilter(MaxScoreFilter):
    """Removes documents whose repeated word n-grams cover too many characters (Gopher: n=5..10).

    Walking the n-grams in order, each occurrence of an n-gram seen before adds the
    characters of its words not already counted by the previous duplicate plus the spaces
    between them; score: that sum / characters of the text (1.0 with fewer than `n` words or
    an empty text). The spaces are counted as single spaces whatever the real whitespace,
    as in NeMo Curator.
    """

    def __init__(self, n: int = 2, max_repeating_duplicate_ngram_ratio: float = 0.2, lang: str = "en") -> None:
        super().__init__()
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"RepeatingDuplicateNGramsFilter: n must be a positive integer, got {n!r}")
        check_positive(
            type(self).__name__, max_repeating_duplicate_ngram_ratio=max_repeating_duplicate_ngram_ratio
        )
        self._n = n
        self._cutoff = max_repeating_duplicate_ngram_ratio
        self._word_splitter = word_splitter(lang)
        self._name = f"repeating_dup_{n}gram"

    def score_document(self, text: str) -> float:
        words = self._word_splitter(text.strip())
        n = self._n
        if len(words) < n or not text:
            return 1.0
        seen: set[tuple[str, ...]] = set()
        duplicated = 0
        pending = 0  # words of the current n-gram already counted by an earlier duplicate
        for gram in get_ngrams(words, n):
            if gram in seen:
                duplicated += sum(map(len, gram[pending:])) + min(n - pending, n - 1)
                pending = n
            else:
                seen.add(gram)
            pending = max(pending - 1, 0)
        return duplicated / len(text)
