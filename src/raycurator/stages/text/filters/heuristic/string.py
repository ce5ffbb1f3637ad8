"""NeMo Curator's string heuristics (Gopher, C4 and NeMo Curator's own), with its exact scores.

Every score equals NeMo Curator 1.4's `score_document` for the same parameters; the
character-ratio filters are computed on whole Arrow arrays with NumPy (same numbers, batch
speed). Where NeMo Curator's definition divides by zero or takes the maximum of nothing
(for example a document without words or without non-blank lines) it raises; here the score
is NaN instead, which every `keep_document` below rejects, so such documents are removed.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from raycurator.stages.text._arrow_text import (
    char_lengths,
    count_ascii_set,
    count_chars,
    count_substring,
    register_char_predicate,
    safe_ratio,
    word_counts,
    words_with_char,
)
from raycurator.stages.text.filters.doc_filter import DocumentFilter
from raycurator.stages.text.filters.heuristic._base import (
    MaxScoreFilter,
    MinScoreFilter,
    VectorizedFilter,
    check_positive,
    is_whitespace_language,
    word_splitter,
)
from raycurator.stages.text.utils.constants import (
    bullet_list,
    common_english_words,
    ellipsis_marks,
    end_marks,
    policy_substrings,
    regex_alpha,
    regex_hash,
    regex_url,
)
from raycurator.stages.text.utils.text_utils import get_paragraphs, get_sentences

NAN = math.nan
_ALPHANUMERIC = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\n?!,."
_WHITE_SPACE = "\t\n\r\b "
_ASCII_BRACKETS = "{}[]()"
_ANGLE_BRACKETS = ("\u27e8", "\u27e9")


def _ratio(count: int, total: int) -> float:
    return count / total if total else NAN


class NonAlphaNumericFilter(VectorizedFilter):
    """Removes documents whose non-alphanumeric share exceeds the limit (Gopher-style).

    Score: 1 - (ASCII letters, ASCII digits, "\\n", "?", "!", "," and ".") / characters;
    1.0 for empty text. As in NeMo Curator, newlines and ?!,. count as alphanumeric and
    non-ASCII letters do not (so the filter suits English only).
    """

    def __init__(self, max_non_alpha_numeric_to_text_ratio: float = 0.25) -> None:
        super().__init__()
        check_positive(type(self).__name__, max_non_alpha_numeric_to_text_ratio=max_non_alpha_numeric_to_text_ratio)
        self._cutoff = max_non_alpha_numeric_to_text_ratio
        self._name = "alpha_numeric"

    def _scores(self, texts: pa.Array) -> np.ndarray:
        lengths = char_lengths(texts)
        return safe_ratio(lengths - count_ascii_set(texts, _ALPHANUMERIC), lengths, empty_value=1.0)

    def _keep(self, scores: np.ndarray) -> np.ndarray:
        return scores <= self._cutoff


class SymbolsToWordsFilter(MaxScoreFilter):
    """Removes documents with too many symbol words per word (Gopher: 0.1).

    A word (stripped) is a symbol word when it is an ellipsis form of `ellipsis_marks` or
    when runs of "#" / its length exceed 0.5 (NeMo Curator counts runs of "#", not hash
    characters, so "##" scores 0.5 and is not a symbol word). Score: symbol words / words.
    """

    def __init__(self, max_symbol_to_word_ratio: float = 0.1, lang: str = "en") -> None:
        super().__init__()
        check_positive(type(self).__name__, max_symbol_to_word_ratio=max_symbol_to_word_ratio)
        self._cutoff = max_symbol_to_word_ratio
        self._word_splitter = word_splitter(lang)
        self._name = "symbol_to_word"

    def score_document(self, text: str) -> float:
        words = self._word_splitter(text.strip())
        symbols = 0
        for raw, count in Counter(words).items():  # each distinct word once
            word = raw.strip()
            if word in ellipsis_marks or ("#" in word and len(regex_hash.findall(word)) / len(word) > 0.5):
                symbols += count
        return _ratio(symbols, len(words))


class NumbersFilter(VectorizedFilter):
    """Removes documents that are mostly digits. Score: ASCII digits / characters (1.0 when empty)."""

    def __init__(self, max_number_to_text_ratio: float = 0.15) -> None:
        super().__init__()
        check_positive(type(self).__name__, max_number_to_text_ratio=max_number_to_text_ratio)
        self._cutoff = max_number_to_text_ratio
        self._name = "numbers_ratio"

    def _scores(self, texts: pa.Array) -> np.ndarray:
        return safe_ratio(count_ascii_set(texts, "0123456789"), char_lengths(texts), empty_value=1.0)

    def _keep(self, scores: np.ndarray) -> np.ndarray:
        return scores <= self._cutoff


class UrlsFilter(VectorizedFilter):
    """Removes documents that are mostly URLs.

    Score: characters of the http(s) URLs `url_regex` finds / characters (1.0 when empty).
    `url_regex` (a pattern or string) replaces the default `regex_url`.
    """

    def __init__(self, max_url_to_text_ratio: float = 0.2, url_regex: re.Pattern | str | None = None) -> None:
        super().__init__()
        check_positive(type(self).__name__, max_url_to_text_ratio=max_url_to_text_ratio)
        self._cutoff = max_url_to_text_ratio
        self._url_regex = re.compile(url_regex) if isinstance(url_regex, str) else (url_regex or regex_url)
        self._name = "urls_ratio"

    def _scores(self, texts: pa.Array) -> np.ndarray:
        lengths = char_lengths(texts)
        if self._url_regex is regex_url:
            # The default pattern means the same in RE2, so Arrow can remove the URLs in bulk.
            without = char_lengths(pc.replace_substring_regex(texts, regex_url.pattern, ""))
            url_chars = lengths - without
        else:
            url_chars = np.array(
                [sum(len(u) for u in self._url_regex.findall(t)) for t in texts.to_pylist()], dtype=np.int64
            )
        return safe_ratio(url_chars, lengths, empty_value=1.0)

    def _keep(self, scores: np.ndarray) -> np.ndarray:
        return scores <= self._cutoff


class BulletsFilter(MaxScoreFilter):
    """Removes documents that are mostly bulleted lines (Gopher: more than 90%).

    Score: non-blank lines starting (once stripped) with a character of `bullet_list` /
    non-blank lines. "-" and "*" are not bullets here, as in NeMo Curator.
    """

    def __init__(self, max_bullet_lines_ratio: float = 0.9) -> None:
        super().__init__()
        check_positive(type(self).__name__, max_bullet_lines_ratio=max_bullet_lines_ratio)
        self._cutoff = max_bullet_lines_ratio
        self._name = "bullet_ratio"

    def score_document(self, text: str) -> float:
        lines = get_sentences(text)
        return _ratio(sum(line.strip()[:1] in bullet_list for line in lines), len(lines))


class WhiteSpaceFilter(VectorizedFilter):
    """Removes documents made largely of whitespace.

    Score: tabs, newlines, carriage returns, backspaces and spaces / characters (1.0 when
    empty); other Unicode spaces are not counted, as in NeMo Curator.
    """

    def __init__(self, max_white_space_ratio: float = 0.25) -> None:
        super().__init__()
        check_positive(type(self).__name__, max_white_space_ratio=max_white_space_ratio)
        self._cutoff = max_white_space_ratio
        self._name = "white_space"

    def _scores(self, texts: pa.Array) -> np.ndarray:
        return safe_ratio(count_ascii_set(texts, _WHITE_SPACE), char_lengths(texts), empty_value=1.0)

    def _keep(self, scores: np.ndarray) -> np.ndarray:
        return scores <= self._cutoff


class ParenthesesFilter(VectorizedFilter):
    """Removes documents with too many brackets.

    Score: characters among "(){}[]⟨⟩" / characters (1.0 when empty).
    """

    def __init__(self, max_parentheses_ratio: float = 0.1) -> None:
        super().__init__()
        check_positive(type(self).__name__, max_parentheses_ratio=max_parentheses_ratio)
        self._max_parentheses_ratio = max_parentheses_ratio
        self._name = "parentheses_ratio"

    def _scores(self, texts: pa.Array) -> np.ndarray:
        brackets = count_ascii_set(texts, _ASCII_BRACKETS) + sum(count_substring(texts, b) for b in _ANGLE_BRACKETS)
        return safe_ratio(brackets, char_lengths(texts), empty_value=1.0)

    def _keep(self, scores: np.ndarray) -> np.ndarray:
        return scores <= self._max_parentheses_ratio


class LongWordFilter(MaxScoreFilter):
    """Removes documents with a word longer than `max_word_length` (C4: 1000).

    Score: length of the longest word (NaN without words).
    """

    def __init__(self, max_word_length: int = 1000, lang: str = "en") -> None:
        super().__init__()
        check_positive(type(self).__name__, max_word_length=max_word_length)
        self._cutoff = self._max_word_length = max_word_length
        self._word_splitter = word_splitter(lang)
        self._name = "max_word_length"

    def score_document(self, text: str) -> float:
        return float(max(map(len, self._word_splitter(text.strip())), default=NAN))


class WordCountFilter(VectorizedFilter):
    """Keeps documents with `min_words` <= words <= `max_words` (Gopher: 50..100000)."""

    def __init__(self, min_words: int = 50, max_words: int = 100000, lang: str = "en") -> None:
        super().__init__()
        check_positive(type(self).__name__, min_words=min_words, max_words=max_words)
        if min_words > max_words:
            raise ValueError(f"WordCountFilter: min_words ({min_words}) exceeds max_words ({max_words})")
        self._min_words = min_words
        self._max_words = max_words
        self._lang = lang
        self._word_splitter = word_splitter(lang)
        self._name = "word_count"

    def _scores(self, texts: pa.Array) -> np.ndarray:
        if is_whitespace_language(self._lang):
            return word_counts(texts).astype(np.float64)
        return np.array([len(self._word_splitter(t.strip())) for t in texts.to_pylist()], dtype=np.float64)

    def _keep(self, scores: np.ndarray) -> np.ndarray:
        return (scores >= self._min_words) & (scores <= self._max_words)


class BoilerPlateStringFilter(MaxScoreFilter):
    """Removes documents whose paragraphs are largely policy / cookie boilerplate (C4-style).

    Paragraphs are the pieces between "\\n\\n". Score: paragraphs containing (lower-cased) a
    phrase of `policy_substrings` / paragraphs; 1.0 as soon as a paragraph mentions "lorem
    ipsum". As in NeMo Curator, `remove_if_at_top_or_bottom` is accepted but does not change
    the score (`BoilerPlateStringModifier` uses it).
    """

    def __init__(self, remove_if_at_top_or_bottom: bool = True, max_boilerplate_string_ratio: float = 0.4) -> None:
        super().__init__()
        check_positive(type(self).__name__, max_boilerplate_string_ratio=max_boilerplate_string_ratio)
        self._remove_if_at_top_or_bottom = remove_if_at_top_or_bottom
        self._cutoff = self._max_boilerplate_string_ratio = max_boilerplate_string_ratio
        self._name = "boilerplate_string_ratio"

    def score_document(self, text: str) -> float:
        paragraphs = get_paragraphs(text)
        count = 0
        for paragraph in paragraphs:
            lowered = paragraph.strip().lower()
            if "lorem ipsum" in lowered:
                return 1.0
            count += any(phrase in lowered for phrase in policy_substrings)
        return count / len(paragraphs)


class MeanWordLengthFilter(VectorizedFilter):
    """Keeps documents whose mean word length is within bounds (Gopher: 3..10).

    Score: mean length of the non-empty words (NaN without words).
    """

    def __init__(self, min_mean_word_length: float = 3, max_mean_word_length: float = 10, lang: str = "en") -> None:
        super().__init__()
        check_positive(
            type(self).__name__, min_mean_word_length=min_mean_word_length, max_mean_word_length=max_mean_word_length
        )
        self._min_cutoff = min_mean_word_length
        self._max_cutoff = max_mean_word_length
        self._lang = lang
        self._word_splitter = word_splitter(lang)
        self._name = "mean_word_length"

    def _scores(self, texts: pa.Array) -> np.ndarray:
        if is_whitespace_language(self._lang):
            # Whitespace words: their characters are all the non-whitespace characters.
            word_chars = char_lengths(texts) - count_chars(texts, "space")
            return safe_ratio(word_chars, word_counts(texts), empty_value=NAN)
        out = np.empty(len(texts), dtype=np.float64)
        for i, text in enumerate(texts.to_pylist()):
            lengths = [len(w) for w in self._word_splitter(text.strip()) if w]
            out[i] = _ratio(sum(lengths), len(lengths))
        return out

    def _keep(self, scores: np.ndarray) -> np.ndarray:
        return (scores >= self._min_cutoff) & (scores <= self._max_cutoff)


class PunctuationFilter(MaxScoreFilter):
    """Removes documents where too many lines lack an end mark (C4-style: 85%).

    Score: non-blank lines whose stripped text does not end with one of `end_marks`
    (. ? ! " ') / non-blank lines (NaN without any).
    """

    def __init__(self, max_num_sentences_without_endmark_ratio: float = 0.85) -> None:
        super().__init__()
        check_positive(
            type(self).__name__, max_num_sentences_without_endmark_ratio=max_num_sentences_without_endmark_ratio
        )
        self._cutoff = max_num_sentences_without_endmark_ratio
        self._name = "punctuation"

    def score_document(self, text: str) -> float:
        lines = get_sentences(text)
        return _ratio(sum(not line.strip().endswith(end_marks) for line in lines), len(lines))


class EllipsisFilter(MaxScoreFilter):
    """Removes documents where too many lines end with an ellipsis (Gopher: 30%).

    Score: non-blank lines whose stripped, lower-cased text ends with a form of
    `ellipsis_marks` (including "read more") / non-blank lines (NaN without any).
    """

    _MARKS = tuple(ellipsis_marks)

    def __init__(self, max_num_lines_ending_with_ellipsis_ratio: float = 0.3) -> None:
        super().__init__()
        check_positive(
            type(self).__name__, max_num_lines_ending_with_ellipsis_ratio=max_num_lines_ending_with_ellipsis_ratio
        )
        self._cutoff = max_num_lines_ending_with_ellipsis_ratio
        self._name = "ellipsis"

    def score_document(self, text: str) -> float:
        lines = get_sentences(text)
        return _ratio(sum(line.strip().lower().endswith(self._MARKS) for line in lines), len(lines))


class CommonEnglishWordsFilter(MinScoreFilter):
    """Keeps documents with at least `min_num_common_words` of Gopher's stop words.

    Score: whitespace words equal (case-sensitively, punctuation included) to one of
    `common_english_words`, so "The" and "the," do not count, as in NeMo Curator. With
    `stop_at_false`, counting stops once the minimum is reached.
    """

    def __init__(self, min_num_common_words: int = 2, stop_at_false: bool = True) -> None:
        super().__init__()
        check_positive(type(self).__name__, min_num_common_words=min_num_common_words)
        self._cutoff = min_num_common_words
        self._stop_at_false = stop_at_false
        self._name = "common_english_words"

    def score_document(self, text: str) -> float:
        count = 0
        for word in text.strip().split():
            count += word in common_english_words
            if self._stop_at_false and count >= self._cutoff:
                break
        return float(count)


register_char_predicate("posix_alpha", lambda char: regex_alpha.match(char) is not None)


class WordsWithoutAlphabetsFilter(VectorizedFilter):
    """Keeps documents where enough words contain a letter (Gopher: 80%).

    Score: words with a character of the Unicode Alphabetic property / words (NaN without).
    Whitespace-separated languages are scored on whole Arrow arrays.
    """

    def __init__(self, min_words_with_alphabets: float = 0.8, lang: str = "en") -> None:
        super().__init__()
        check_positive(type(self).__name__, min_words_with_alphabets=min_words_with_alphabets)
        self._cutoff = min_words_with_alphabets
        self._lang = lang
        self._word_splitter = word_splitter(lang)
        self._name = "words_without_alphabets"

    def _scores(self, texts: pa.Array) -> np.ndarray:
        if is_whitespace_language(self._lang):
            return safe_ratio(words_with_char(texts, "posix_alpha"), word_counts(texts), empty_value=NAN)
        search = regex_alpha.search
        out = np.empty(len(texts), dtype=np.float64)
        for i, text in enumerate(texts.to_pylist()):
            words = self._word_splitter(text.strip())
            out[i] = _ratio(sum(1 for word in words if search(word)), len(words))
        return out

    def _keep(self, scores: np.ndarray) -> np.ndarray:
        return scores >= self._cutoff


class PornographicUrlsFilter(DocumentFilter):
    """Removes documents with an http(s) URL containing "porn". Score: 1 if so, else 0."""

    def __init__(self, url_regex: re.Pattern | str | None = None) -> None:
        super().__init__()
        self._url_regex = re.compile(url_regex) if isinstance(url_regex, str) else (url_regex or regex_url)

    def score_document(self, text: str) -> int:
        return int(any("porn" in url for url in self._url_regex.findall(text)))

    def keep_document(self, score: int) -> bool:
        return score != 1


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
