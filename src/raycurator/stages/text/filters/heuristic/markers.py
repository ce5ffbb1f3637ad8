"""Marker filters (C4): placeholder text, code braces, JavaScript notices, fixed substrings."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from raycurator.stages.text._arrow_text import count_substring
from raycurator.stages.text.filters.heuristic._base import (
    MaxScoreFilter,
    VectorizedFilter,
    check_positive,
    nonempty_lines,
)
from raycurator.stages.text.filters.heuristic.string import SubstringFilter


class LoremIpsumFilter(VectorizedFilter):
    """Removes placeholder pages (C4): score = occurrences of "lorem ipsum", any case.

    Kept when the score is at most `max_lorem_ipsum_count` (0: any occurrence removes).
    """

    def __init__(self, max_lorem_ipsum_count: int = 0) -> None:
        super().__init__()
        check_positive(type(self).__name__, max_lorem_ipsum_count=max_lorem_ipsum_count)
        self._cutoff = max_lorem_ipsum_count
        self._name = "lorem_ipsum"

    def _scores(self, texts: pa.Array) -> np.ndarray:
        return count_substring(texts, "lorem ipsum", ignore_case=True).astype(np.float64)

    def _keep(self, scores: np.ndarray) -> np.ndarray:
        return scores <= self._cutoff


class CurlyBracketFilter(VectorizedFilter):
    """Removes pages with code-like braces (C4): score = number of "{" and "}" characters.

    Kept when the score is at most `max_curly_brackets` (0, C4's rule: any brace removes).
    """

    def __init__(self, max_curly_brackets: int = 0) -> None:
        super().__init__()
        check_positive(type(self).__name__, max_curly_brackets=max_curly_brackets)
        self._cutoff = max_curly_brackets
        self._name = "curly_bracket"

    def _scores(self, texts: pa.Array) -> np.ndarray:
        return (count_substring(texts, "{") + count_substring(texts, "}")).astype(np.float64)

    def _keep(self, scores: np.ndarray) -> np.ndarray:
        return scores <= self._cutoff


class JavascriptFilter(MaxScoreFilter):
    """Removes pages dominated by "enable JavaScript" notices (C4's javascript rule, per document).

    Score: lines mentioning "javascript" (any case) / lines (0.0 without lines); kept when at
    most `max_javascript_line_ratio`. C4 itself drops such lines; `LineRemover` does that.
    """

    def __init__(self, max_javascript_line_ratio: float = 0.1) -> None:
        super().__init__()
        check_positive(type(self).__name__, max_javascript_line_ratio=max_javascript_line_ratio)
        self._cutoff = max_javascript_line_ratio
        self._name = "javascript"

    def score_document(self, text: str) -> float:
        if "javascript" not in text.lower():
            return 0.0
        lines = nonempty_lines(text)
        return sum("javascript" in line.lower() for line in lines) / len(lines)


__all__ = ["CurlyBracketFilter", "JavascriptFilter", "LoremIpsumFilter", "SubstringFilter"]
