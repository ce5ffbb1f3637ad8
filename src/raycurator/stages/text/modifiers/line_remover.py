"""`LineRemover`: drops the lines of a document that match given patterns."""

from __future__ import annotations

import re
from typing import Literal

from raycurator.stages.text.modifiers.doc_modifier import DocumentModifier

MatchMode = Literal["exact", "contains", "regex"]


class LineRemover(DocumentModifier):
    """Removes lines (split on "\\n") matching any of `patterns`.

    `match="exact"` (the default, NeMo Curator's `LineRemover(patterns)`) removes lines equal
    to a pattern, whitespace included; `"contains"` looks for the
    pattern inside the line (C4 drops lines containing "javascript" this way); `"regex"`
    searches each pattern as a Python regular expression. `ignore_case` applies to all modes.
    """

    def __init__(self, patterns: list[str] | str, match: MatchMode = "exact", ignore_case: bool = False) -> None:
        super().__init__()
        patterns = [patterns] if isinstance(patterns, str) else list(patterns)
        if not patterns or not all(isinstance(p, str) for p in patterns):
            raise ValueError(f"LineRemover: patterns must be a non-empty list of strings, got {patterns!r}")
        if match not in ("exact", "contains", "regex"):
            raise ValueError(f"LineRemover: match must be 'exact', 'contains' or 'regex', got {match!r}")
        self.patterns = patterns
        self.match = match
        self.ignore_case = ignore_case
        flags = re.IGNORECASE if ignore_case else 0
        self._regexes = [re.compile(p, flags) for p in patterns] if match == "regex" else []
        self._needles = [p.casefold() if ignore_case else p for p in patterns]
        self._exact = set(self._needles)

    def _matches(self, line: str) -> bool:
        if self.match == "regex":
            return any(r.search(line) for r in self._regexes)
        candidate = line.casefold() if self.ignore_case else line
        if self.match == "exact":
            return candidate in self._exact
        return any(needle in candidate for needle in self._needles)

    def modify_document(self, text: str) -> str:
        return "\n".join(line for line in text.split("\n") if not self._matches(line))
