"""Repetition filters (Gopher): repeated lines, paragraphs and word n-grams.

Line / paragraph filters follow NeMo Curator's convention: the score is the share that
*survives* de-duplication (1.0 = nothing repeated) and a document is kept when the score is
at least the configured value; e.g. `RepeatedLinesFilter(0.7)` removes a document that
shrinks by more than 30% when duplicate lines are dropped (Gopher's 0.3 duplicate-line rule).
"""

from __future__ import annotations

from collections import Counter

from raycurator.stages.text.filters.heuristic._base import (
    MaxScoreFilter,
    MinScoreFilter,
    check_language,
    check_positive,
    nonempty_lines,
    nonempty_paragraphs,
)

#: Gopher's limits for the top n-gram character share, by n.
GOPHER_TOP_NGRAM_RATIOS = {2: 0.20, 3: 0.18, 4: 0.16}
#: Gopher's limits for the duplicated n-gram character share, by n.
GOPHER_DUPLICATE_NGRAM_RATIOS = {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}


def _unique_fraction(parts: list[str]) -> float:
    return len(set(parts)) / len(parts) if parts else 1.0


def _unique_char_fraction(parts: list[str]) -> float:
    total = sum(len(p) for p in parts)
    return sum(len(p) for p in set(parts)) / total if total else 1.0


class RepeatedLinesFilter(MinScoreFilter):
    """Score: distinct lines / lines (1.0 without lines); kept when >= `max_repeated_line_fraction`."""

    def __init__(self, max_repeated_line_fraction: float = 0.7) -> None:
        super().__init__()
        check_positive(type(self).__name__, max_repeated_line_fraction=max_repeated_line_fraction)
        self._cutoff = max_repeated_line_fraction
        self._name = "repeated_lines"

    def score_document(self, text: str) -> float:
        return _unique_fraction(nonempty_lines(text))


class RepeatedParagraphsFilter(MinScoreFilter):
    """Score: distinct paragraphs / paragraphs; kept when >= `max_repeated_paragraphs_ratio`."""

    def __init__(self, max_repeated_paragraphs_ratio: float = 0.7) -> None:
        super().__init__()
        check_positive(type(self).__name__, max_repeated_paragraphs_ratio=max_repeated_paragraphs_ratio)
        self._cutoff = max_repeated_paragraphs_ratio
        self._name = "repeated_paragraphs"

    def score_document(self, text: str) -> float:
        return _unique_fraction(nonempty_paragraphs(text))


class RepeatedLinesByCharFilter(MinScoreFilter):
    """Score: characters in distinct lines / characters in lines; kept when >= the ratio."""

    def __init__(self, max_repeated_lines_char_ratio: float = 0.8) -> None:
        super().__init__()
        check_positive(type(self).__name__, max_repeated_lines_char_ratio=max_repeated_lines_char_ratio)
        self._cutoff = max_repeated_lines_char_ratio
        self._name = "repeated_lines_char"

    def score_document(self, text: str) -> float:
        return _unique_char_fraction(nonempty_lines(text))


class RepeatedParagraphsByCharFilter(MinScoreFilter):
    """Score: characters in distinct paragraphs / characters in paragraphs; kept when >= the ratio."""

    def __init__(self, max_repeated_paragraphs_char_ratio: float = 0.8) -> None:
        super().__init__()
        check_positive(type(self).__name__, max_repeated_paragraphs_char_ratio=max_repeated_paragraphs_char_ratio)
        self._cutoff = max_repeated_paragraphs_char_ratio
        self._name = "repeated_paragraphs_char"

    def score_document(self, text: str) -> float:
        return _unique_char_fraction(nonempty_paragraphs(text))


class RepeatingTopNGramsFilter(MaxScoreFilter):
    """Removes documents dominated by their most frequent word n-gram (Gopher).

    Score: (occurrences of the most frequent n-gram x its characters) / characters of all
    words; 0.0 when no n-gram occurs twice. Gopher's limits: n=2: 0.20, n=3: 0.18, n=4: 0.16.
    """

    def __init__(self, n: int = 2, max_repeating_ngram_ratio: float = 0.2, lang: str = "en") -> None:
        super().__init__()
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"RepeatingTopNGramsFilter: n must be a positive int, got {n!r}")
        check_positive(type(self).__name__, max_repeating_ngram_ratio=max_repeating_ngram_ratio)
        check_language(type(self).__name__, lang)
        self._n = n
        self._cutoff = max_repeating_ngram_ratio
        self._name = f"repeating_top_{n}grams"

    def score_document(self, text: str) -> float:
        words = text.split()
        total = sum(len(w) for w in words)
        if len(words) < self._n or not total:
            return 0.0
        counts = Counter(zip(*(words[i:] for i in range(self._n)), strict=False))
        ngram, count = counts.most_common(1)[0]
        if count < 2:
            return 0.0
        return count * sum(len(w) for w in ngram) / total


class RepeatingDuplicateNGramsFilter(MaxScoreFilter):
    """Removes documents where many characters lie in repeated word n-grams (Gopher).

    Score: characters of the words covered by any n-gram occurring more than once (each word
    counted once, even under overlapping n-grams) / characters of all words.
    Gopher's limits: n=5..10 -> 0.15, 0.14, 0.13, 0.12, 0.11, 0.10.
    """

    def __init__(self, n: int = 2, max_repeating_duplicate_ngram_ratio: float = 0.2, lang: str = "en") -> None:
        super().__init__()
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"RepeatingDuplicateNGramsFilter: n must be a positive int, got {n!r}")
        check_positive(type(self).__name__, max_repeating_duplicate_ngram_ratio=max_repeating_duplicate_ngram_ratio)
        check_language(type(self).__name__, lang)
        self._n = n
        self._cutoff = max_repeating_duplicate_ngram_ratio
        self._name = f"repeating_dup_{n}gram"

    def score_document(self, text: str) -> float:
        words = text.split()
        total = sum(len(w) for w in words)
        if len(words) < self._n or not total:
            return 0.0
        ngrams = list(zip(*(words[i:] for i in range(self._n)), strict=False))
        counts = Counter(ngrams)
        covered = bytearray(len(words))
        for start, ngram in enumerate(ngrams):
            if counts[ngram] > 1:
                covered[start : start + self._n] = b"\x01" * self._n
        return sum(len(w) for w, flag in zip(words, covered, strict=True) if flag) / total
