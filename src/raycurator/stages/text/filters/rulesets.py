"""The rule sets of published corpora: C4, Gopher (quality and repetition) and FineWeb.

Each rule-set filter checks its rules in order and scores a document with the name of the
first rule it breaks ("" when it breaks none); `keep_document` keeps "" only. Through
`ScoreFilter`, the removal counts per rule land in the stage's metrics
(`removed_by_<filter>.<rule>`) and, with an `ExclusionWriter`, each removed document is
written with that rule name as its score. Thresholds default to the published values:

- C4 (Raffel et al. 2020, "Exploring the Limits of Transfer Learning", section 2.2, and its
  TensorFlow Datasets implementation): `C4LineCleaner` (line rules) then `C4DocumentFilter`
  (document rules).
- Gopher (Rae et al. 2021, "Scaling Language Models", appendix A.1.1): `GopherQualityFilter`
  and `GopherRepetitionFilter` (table A1's repetition thresholds).
- FineWeb (Penedo et al. 2024, "The FineWeb Datasets", section 3.4): `FineWebQualityFilter`.

Words are whitespace-separated here (the corpora used language-specific word tokenisers;
for English text the counts differ only around punctuation).
"""

from __future__ import annotations

import re
import string
from collections import Counter

from raycurator.stages.text.filters.doc_filter import DocumentFilter
from raycurator.stages.text.modifiers.doc_modifier import DocumentModifier

#: C4's terminal punctuation for a kept line.
C4_END_MARKS = (".", "?", "!", '"')
#: C4's policy phrases (a line containing one is dropped).
C4_POLICY_PHRASES = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")
#: Wikipedia-style citation markers C4 removes from lines: [1], [edit], [citation needed].
C4_CITATION = re.compile(r"\[\d*\]|\[edit\]|\[citation needed\]", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?]+[\"')\]\u201d\u2019]*(?=\s|$)")
#: Gopher's stop words.
GOPHER_STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")
_PUNCTUATION = frozenset(string.punctuation + "\u2013\u2014\u2026\u00ab\u00bb\u201c\u201d\u2018\u2019\u2022")
#: What FineWeb counts as a line ending with punctuation.
FINEWEB_END_MARKS = (".", "!", "?", '"', "'", "\u2026", "\u201d", "\u2019", ";", ":", ")")


class RuleSetFilter(DocumentFilter):
    """A filter whose score is the name of the first broken rule ("" = kept)."""

    def keep_document(self, score: str) -> bool:
        return score == ""


# -- C4 -------------------------------------------------------------------------------------------
class C4LineCleaner(DocumentModifier):
    """C4's line-level cleaning: keeps only the lines that pass every line rule.

    Each line (split on "\\n", stripped) loses its citation markers (`remove_citations`), and
    is dropped when it does not end with a terminal mark (. ? ! ") or ends with an ellipsis,
    has fewer than `min_words_per_line` words, has a word longer than `max_word_length`, or
    mentions "javascript" or a policy phrase (any case). Kept lines are joined with "\\n".
    """

    def __init__(
        self,
        remove_citations: bool = True,
        filter_no_terminal_punct: bool = True,
        min_words_per_line: int = 3,
        max_word_length: int = 1000,
        filter_javascript: bool = True,
        filter_policy: bool = True,
    ) -> None:
        super().__init__()
        self.remove_citations = remove_citations
        self.filter_no_terminal_punct = filter_no_terminal_punct
        self.min_words_per_line = min_words_per_line
        self.max_word_length = max_word_length
        self.filter_javascript = filter_javascript
        self.filter_policy = filter_policy
        self._name = "c4_line_cleaner"

    def _keep_line(self, line: str) -> bool:
        if self.filter_no_terminal_punct and (not line.endswith(C4_END_MARKS) or line.endswith("...")):
            return False
        words = line.split()
        if len(words) < self.min_words_per_line:
            return False
        if any(len(word) > self.max_word_length for word in words):
            return False
        lowered = line.lower()
        if self.filter_javascript and "javascript" in lowered:
            return False
        return not (self.filter_policy and any(phrase in lowered for phrase in C4_POLICY_PHRASES))

    def modify_document(self, text: str) -> str:
        kept = []
        for raw in text.split("\n"):
            line = raw.strip()
            if self.remove_citations:
                line = C4_CITATION.sub("", line)
            if self._keep_line(line):
                kept.append(line)
        return "\n".join(kept)


class C4DocumentFilter(RuleSetFilter):
    """C4's document rules, applied after `C4LineCleaner`.

    Rules, in order: "lorem_ipsum" (the placeholder text appears, any case),
    "curly_bracket" (a "{" appears: code), "too_few_sentences" (fewer than
    `min_num_sentences` sentences; a sentence ends with . ! or ? before whitespace or the end).
    """

    def __init__(
        self, min_num_sentences: int = 5, filter_lorem_ipsum: bool = True, filter_curly_bracket: bool = True
    ) -> None:
        super().__init__()
        self.min_num_sentences = min_num_sentences
        self.filter_lorem_ipsum = filter_lorem_ipsum
        self.filter_curly_bracket = filter_curly_bracket
        self._name = "c4_document"

    def score_document(self, text: str) -> str:
        if self.filter_lorem_ipsum and "lorem ipsum" in text.lower():
            return "lorem_ipsum"
        if self.filter_curly_bracket and "{" in text:
            return "curly_bracket"
        if len(_SENTENCE_END.findall(text)) < self.min_num_sentences:
            return "too_few_sentences"
        return ""


# -- Gopher ---------------------------------------------------------------------------------------
class GopherQualityFilter(RuleSetFilter):
    """Gopher's quality rules (Rae et al. 2021, A.1.1), checked in this order.

    Words are whitespace words that are not made only of punctuation. Rules:
    "gopher_short_doc" / "gopher_long_doc" (words outside `min_doc_words`..`max_doc_words`),
    "gopher_below_avg_threshold" / "gopher_above_avg_threshold" (mean word length outside
    `min_avg_word_length`..`max_avg_word_length`), "gopher_too_many_hashes" /
    "gopher_too_many_ellipsis" ("#" or ellipses per word above `max_symbol_word_ratio`),
    "gopher_too_many_bullets" (more than `max_bullet_lines_ratio` of the non-blank lines start
    with a bullet), "gopher_too_many_end_ellipsis" (more than `max_ellipsis_lines_ratio` of
    them end with an ellipsis), "gopher_below_alpha_threshold" (fewer than
    `max_non_alpha_words_ratio` of the words contain a letter) and "gopher_enough_stop_words"
    (fewer than `min_stop_words` words among `stop_words`).
    """

    BULLETS = ("\u2022", "-", "*", "\u25cf", "\u25e6", "\u2023", "\u2043")

    def __init__(
        self,
        min_doc_words: int = 50,
        max_doc_words: int = 100000,
        min_avg_word_length: float = 3,
        max_avg_word_length: float = 10,
        max_symbol_word_ratio: float = 0.1,
        max_bullet_lines_ratio: float = 0.9,
        max_ellipsis_lines_ratio: float = 0.3,
        max_non_alpha_words_ratio: float = 0.8,
        min_stop_words: int = 2,
        stop_words: tuple[str, ...] | list[str] = GOPHER_STOP_WORDS,
    ) -> None:
        super().__init__()
        self.min_doc_words = min_doc_words
        self.max_doc_words = max_doc_words
        self.min_avg_word_length = min_avg_word_length
        self.max_avg_word_length = max_avg_word_length
        self.max_symbol_word_ratio = max_symbol_word_ratio
        self.max_bullet_lines_ratio = max_bullet_lines_ratio
        self.max_ellipsis_lines_ratio = max_ellipsis_lines_ratio
        self.max_non_alpha_words_ratio = max_non_alpha_words_ratio
        self.min_stop_words = min_stop_words
        self.stop_words = frozenset(stop_words)
        self._name = "gopher_quality"

    def score_document(self, text: str) -> str:
        words = [w for w in text.split() if not set(w) <= _PUNCTUATION]
        n = len(words)
        if n < self.min_doc_words:
            return "gopher_short_doc"
        if n > self.max_doc_words:
            return "gopher_long_doc"
        mean = sum(map(len, words)) / n
        if mean < self.min_avg_word_length:
            return "gopher_below_avg_threshold"
        if mean > self.max_avg_word_length:
            return "gopher_above_avg_threshold"
        if text.count("#") / n > self.max_symbol_word_ratio:
            return "gopher_too_many_hashes"
        if (text.count("...") + text.count("\u2026")) / n > self.max_symbol_word_ratio:
            return "gopher_too_many_ellipsis"
        lines = [line.strip() for line in text.split("\n") if line.strip()]
        if lines and sum(line.startswith(self.BULLETS) for line in lines) / len(lines) > self.max_bullet_lines_ratio:
            return "gopher_too_many_bullets"
        ends = sum(line.endswith(("...", "\u2026")) for line in lines)
        if lines and ends / len(lines) > self.max_ellipsis_lines_ratio:
            return "gopher_too_many_end_ellipsis"
        if sum(any(c.isalpha() for c in w) for w in words) / n < self.max_non_alpha_words_ratio:
            return "gopher_below_alpha_threshold"
        if sum(w in self.stop_words for w in words) < self.min_stop_words:
            return "gopher_enough_stop_words"
        return ""


#: Gopher's duplicated n-gram limits (table A1).
GOPHER_DUPLICATE_NGRAMS = ((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10))


def _duplicates(parts: list[str]) -> tuple[int, int]:
    """(how many parts repeat an earlier one, their characters)."""
    seen: set[str] = set()
    count = chars = 0
    for part in parts:
        if part in seen:
            count += 1
            chars += len(part)
        else:
            seen.add(part)
    return count, chars


class GopherRepetitionFilter(RuleSetFilter):
    """Gopher's repetition rules (Rae et al. 2021, table A1), checked in this order.

    Paragraphs are separated by blank lines, lines by "\\n" (blank ones ignored). Rules:
    "dup_para_frac" / "dup_para_char_frac" (paragraphs repeating an earlier one, as a share
    of paragraphs / of characters), "dup_line_frac" / "dup_line_char_frac" (the same for
    lines), "top_{n}_gram" (the most frequent word n-gram covers more than the limit of the
    word characters: its characters times its count) and "duplicated_{n}_n_grams" (words
    inside n-grams that occurred before cover more than the limit of the word characters).
    """

    def __init__(
        self,
        dup_line_frac: float = 0.3,
        dup_para_frac: float = 0.3,
        dup_line_char_frac: float = 0.2,
        dup_para_char_frac: float = 0.2,
        top_n_grams: tuple[tuple[int, float], ...] = ((2, 0.2), (3, 0.18), (4, 0.16)),
        dup_n_grams: tuple[tuple[int, float], ...] = GOPHER_DUPLICATE_NGRAMS,
    ) -> None:
        super().__init__()
        self.dup_line_frac = dup_line_frac
        self.dup_para_frac = dup_para_frac
        self.dup_line_char_frac = dup_line_char_frac
        self.dup_para_char_frac = dup_para_char_frac
        self.top_n_grams = tuple((int(n), float(r)) for n, r in top_n_grams)
        self.dup_n_grams = tuple((int(n), float(r)) for n, r in dup_n_grams)
        self._name = "gopher_repetition"

    def score_document(self, text: str) -> str:
        total = len(text)
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
        count, chars = _duplicates(paragraphs)
        if paragraphs and count / len(paragraphs) > self.dup_para_frac:
            return "dup_para_frac"
        if total and chars / total > self.dup_para_char_frac:
            return "dup_para_char_frac"
        lines = [line.strip() for line in text.split("\n") if line.strip()]
        count, chars = _duplicates(lines)
        if lines and count / len(lines) > self.dup_line_frac:
            return "dup_line_frac"
        if total and chars / total > self.dup_line_char_frac:
            return "dup_line_char_frac"
        words = text.split()
        word_chars = sum(map(len, words))
        for n, limit in self.top_n_grams:
            grams = Counter(zip(*(words[i:] for i in range(n)), strict=False))
            if grams:
                gram, frequency = grams.most_common(1)[0]
                if frequency > 1 and sum(map(len, gram)) * frequency / word_chars > limit:
                    return f"top_{n}_gram"
        for n, limit in self.dup_n_grams:
            seen: set[tuple[str, ...]] = set()
            covered = [False] * len(words)
            for i in range(len(words) - n + 1):
                gram = tuple(words[i : i + n])
                if gram in seen:
                    covered[i : i + n] = [True] * n
                seen.add(gram)
            if word_chars and sum(len(w) for w, c in zip(words, covered, strict=True) if c) / word_chars > limit:
                return f"duplicated_{n}_n_grams"
        return ""


# -- FineWeb --------------------------------------------------------------------------------------
class FineWebQualityFilter(RuleSetFilter):
    """FineWeb's extra rules (Penedo et al. 2024, section 3.4), checked in this order.

    Lines are the non-blank lines. Rules: "line_punct_ratio" (fewer than `line_punct_thr` of
    the lines end with punctuation; with `line_punct_exclude_zero` a ratio of exactly 0 is
    let through), "short_line_ratio" (at least `short_line_thr` of the lines have at most
    `short_line_length` characters), "char_dup_ratio" (characters of lines repeating an
    earlier line / characters without newlines reach `char_duplicates_ratio`) and
    "list_ratio" (newlines per word above `new_line_ratio`). A text without lines scores
    "empty".
    """

    def __init__(
        self,
        line_punct_thr: float = 0.12,
        line_punct_exclude_zero: bool = False,
        short_line_thr: float = 0.67,
        short_line_length: int = 30,
        char_duplicates_ratio: float = 0.01,
        new_line_ratio: float = 0.3,
    ) -> None:
        super().__init__()
        self.line_punct_thr = line_punct_thr
        self.line_punct_exclude_zero = line_punct_exclude_zero
        self.short_line_thr = short_line_thr
        self.short_line_length = short_line_length
        self.char_duplicates_ratio = char_duplicates_ratio
        self.new_line_ratio = new_line_ratio
        self._name = "fineweb_quality"

    def score_document(self, text: str) -> str:
        lines = [line for line in text.split("\n") if line.strip()]
        if not lines:
            return "empty"
        ratio = sum(line.rstrip().endswith(FINEWEB_END_MARKS) for line in lines) / len(lines)
        if ratio < self.line_punct_thr and not (ratio == 0 and self.line_punct_exclude_zero):
            return "line_punct_ratio"
        if sum(len(line) <= self.short_line_length for line in lines) / len(lines) >= self.short_line_thr:
            return "short_line_ratio"
        _, duplicated = _duplicates(lines)
        if duplicated / max(len(text.replace("\n", "")), 1) >= self.char_duplicates_ratio:
            return "char_dup_ratio"
        if text.count("\n") / max(len(text.split()), 1) > self.new_line_ratio:
            return "list_ratio"
        return ""
