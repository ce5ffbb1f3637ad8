"""Marker filters (C4): placeholder text, code braces, JavaScript notices, fixed substrings."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from raycurator.stages.text._arrow_text import count_substring
from raycurator.stages.text.filters.heuristic._base import (
    MaxScoreFilter,
    VectorizedFilter,
    check_positive,
    nonempty_lines,
)


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


class SubstringFilter(VectorizedFilter):
    """Keeps documents containing `substring` at `position` ("prefix", "suffix" or "any").

    Score: 1.0 when the substring is found there, else 0.0.
    """

    def __init__(self, substring: str, position: Literal["prefix", "suffix", "any"] = "any") -> None:
        super().__init__()
        if position not in ("prefix", "suffix", "any"):
            raise ValueError(f"SubstringFilter: position must be 'prefix', 'suffix' or 'any', got {position!r}")
        if not isinstance(substring, str) or not substring:
            raise ValueError(f"SubstringFilter: substring must be a non-empty string, got {substring!r}")
        self._substring = substring
        self._position = position
        self._name = "substring"

    def _scores(self, texts: pa.Array) -> np.ndarray:
        if self._position == "prefix":
            found = pc.starts_with(texts, self._substring)
        elif self._position == "suffix":
            found = pc.ends_with(texts, self._substring)
        else:
            found = pc.match_substring(texts, self._substring)
        return found.to_numpy(zero_copy_only=False).astype(np.float64)

    def _keep(self, scores: np.ndarray) -> np.ndarray:
        return scores == 1.0
