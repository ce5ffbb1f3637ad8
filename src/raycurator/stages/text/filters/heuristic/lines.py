"""Line-level filters (Gopher / C4). Lines are split on "\\n", stripped; blank lines are ignored."""

from __future__ import annotations

from raycurator.stages.text.filters.heuristic._base import MaxScoreFilter, check_positive, nonempty_lines

#: Characters that start a bulleted line.
BULLETS = (
    "\u2022", "\u2023", "\u2043", "\u204c", "\u204d", "\u2219", "\u25cb", "\u25cf",
    "\u25d8", "\u25e6", "\u29be", "\u29bf", "\u25aa", "\u25a0", "\u25a1", "-", "*",
)  # fmt: skip
#: C4's policy / boilerplate phrases (matched case-insensitively).
BOILERPLATE_STRINGS = (
    "terms of use",
    "privacy policy",
    "cookie policy",
    "uses cookies",
    "use of cookies",
    "use cookies",
)
#: What a line ending in punctuation ends with.
END_MARKS = (".", "!", "?", "\u2026", '"', "'", "\u201d", "\u2019", ")")


class BulletsFilter(MaxScoreFilter):
    """Removes documents that are mostly bullet points (Gopher: more than 90% of lines).

    Score: lines starting with a character of `BULLETS` / lines (0.0 without lines).
    """

    def __init__(self, max_bullet_lines_ratio: float = 0.9) -> None:
        super().__init__()
        check_positive(type(self).__name__, max_bullet_lines_ratio=max_bullet_lines_ratio)
        self._cutoff = max_bullet_lines_ratio
        self._name = "bullet_ratio"

    def score_document(self, text: str) -> float:
        lines = nonempty_lines(text)
        if not lines:
            return 0.0
        return sum(line.startswith(BULLETS) for line in lines) / len(lines)


class EllipsisFilter(MaxScoreFilter):
    """Removes documents where too many lines end with an ellipsis (Gopher: more than 30%).

    Score: lines ending with "..." or "…" / lines (0.0 without lines).
    """

    def __init__(self, max_num_lines_ending_with_ellipsis_ratio: float = 0.3) -> None:
        super().__init__()
        check_positive(
            type(self).__name__,
            max_num_lines_ending_with_ellipsis_ratio=max_num_lines_ending_with_ellipsis_ratio,
        )
        self._cutoff = max_num_lines_ending_with_ellipsis_ratio
        self._name = "ellipsis_ratio"

    def score_document(self, text: str) -> float:
        lines = nonempty_lines(text)
        if not lines:
            return 0.0
        return sum(line.endswith(("...", "…")) for line in lines) / len(lines)


class PunctuationFilter(MaxScoreFilter):
    """Removes documents where too many lines lack terminal punctuation (FineWeb/C4-style).

    Score: lines not ending with one of `END_MARKS` / lines (0.0 without lines).
    """

    def __init__(self, max_num_sentences_without_endmark_ratio: float = 0.85) -> None:
        super().__init__()
        check_positive(
            type(self).__name__,
            max_num_sentences_without_endmark_ratio=max_num_sentences_without_endmark_ratio,
        )
        self._cutoff = max_num_sentences_without_endmark_ratio
        self._name = "punctuation"

    def score_document(self, text: str) -> float:
        lines = nonempty_lines(text)
        if not lines:
            return 0.0
        return sum(not line.endswith(END_MARKS) for line in lines) / len(lines)


class BoilerPlateStringFilter(MaxScoreFilter):
    """Removes documents made largely of policy / cookie boilerplate (C4 phrases).

    Score: characters in lines containing a phrase of `BOILERPLATE_STRINGS` / characters in
    all lines. With `remove_if_at_top_or_bottom`, a boilerplate first or last line scores 1.0.
    """

    def __init__(self, remove_if_at_top_or_bottom: bool = True, max_boilerplate_string_ratio: float = 0.4) -> None:
        super().__init__()
        check_positive(type(self).__name__, max_boilerplate_string_ratio=max_boilerplate_string_ratio)
        self._remove_if_at_top_or_bottom = remove_if_at_top_or_bottom
        self._cutoff = max_boilerplate_string_ratio
        self._name = "boilerplate_string_ratio"

    def score_document(self, text: str) -> float:
        lines = nonempty_lines(text)
        if not lines:
            return 0.0
        flags = [any(phrase in line.lower() for phrase in BOILERPLATE_STRINGS) for line in lines]
        if self._remove_if_at_top_or_bottom and (flags[0] or flags[-1]):
            return 1.0
        total = sum(len(line) for line in lines)
        return sum(len(line) for line, flag in zip(lines, flags, strict=True) if flag) / total
