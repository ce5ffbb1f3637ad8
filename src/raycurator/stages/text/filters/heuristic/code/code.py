"""Code filters (StarCoder-style) with NeMo Curator 1.4's scores and parameters.

Where NeMo Curator divides by the length of an empty source it raises; here such scores are
NaN, which every `keep_document` below rejects.
"""

from __future__ import annotations

import csv
import logging
import math
from typing import Any

from raycurator.stages.text.filters.doc_filter import DocumentFilter
from raycurator.stages.text.utils.constants import regex_alpha, regex_alphanum
from raycurator.stages.text.utils.text_utils import get_comments_and_docstring

logger = logging.getLogger(__name__)
NAN = math.nan


def _ratio(count: int, total: int) -> float:
    return count / total if total else NAN


class PythonCommentToCodeFilter(DocumentFilter):
    """Keeps Python sources whose docstrings + comments make up a share of the characters within bounds.

    Score: (characters of the "#" comments re-assembled by `tokenize` + characters of the
    docstrings joined by newlines) / characters; 0 when the source cannot be parsed.
    """

    def __init__(self, min_comment_to_code_ratio: float = 0.01, max_comment_to_code_ratio: float = 0.85) -> None:
        super().__init__()
        self._min_threshold = min_comment_to_code_ratio
        self._max_threshold = max_comment_to_code_ratio
        self._name = "python_comment_ratio"

    def score_document(self, source: str) -> float:
        docstrings, comments = get_comments_and_docstring(source)
        if docstrings is None or comments is None:
            return 0
        return _ratio(len(comments) + len(docstrings), len(source))

    def keep_document(self, score: float) -> bool:
        return self._min_threshold <= score <= self._max_threshold


class GeneralCommentToCodeFilter(DocumentFilter):
    """Like `PythonCommentToCodeFilter` for any language `comment_parser` knows, by MIME type.

    `language` is a MIME type such as "text/x-c", "text/x-java-source" or
    "application/javascript". Score: characters of the comment texts (joined with spaces,
    without the comment markers) / characters; 9999 when the source cannot be tokenised.
    """

    def __init__(
        self, language: str, min_comment_to_code_ratio: float = 0.01, max_comment_to_code_ratio: float = 0.85
    ) -> None:
        super().__init__()
        self._lang = language
        self._min_threshold = min_comment_to_code_ratio
        self._max_threshold = max_comment_to_code_ratio
        self._name = "comment_ratio"

    def score_document(self, source: str) -> float:
        from comment_parser import comment_parser

        try:
            comments = comment_parser.extract_comments_from_str(source, mime=self._lang)
        except Exception as error:  # any parser failure scores 9999, as in NeMo Curator
            logger.debug("%s: no comments extracted: %s", self.name, error)
            return 9999
        return _ratio(len(" ".join(c.text() for c in comments)), len(source))

    def keep_document(self, score: float) -> bool:
        return self._min_threshold <= score <= self._max_threshold


class NumberOfLinesOfCodeFilter(DocumentFilter):
    """Keeps sources with `min_lines` <= lines <= `max_lines`. Score: newlines + 1."""

    def __init__(self, min_lines: int = 10, max_lines: int = 20000) -> None:
        super().__init__()
        self._min_lines = min_lines
        self._max_lines = max_lines
        self._name = "num_lines"

    def score_document(self, source: str) -> int:
        return source.count("\n") + 1

    def keep_document(self, score: int) -> bool:
        return self._min_lines <= score <= self._max_lines


class TokenizerFertilityFilter(DocumentFilter):
    """Keeps sources with at least `min_char_to_token_ratio` characters per SentencePiece token.

    `path_to_tokenizer` is a SentencePiece model file on disk. Score: characters / pieces
    (-1 when the tokenizer gives no piece). The model is loaded when the filter is built and
    again after unpickling on a worker.
    """

    def __init__(self, path_to_tokenizer: str | None = None, min_char_to_token_ratio: float = 2.5) -> None:
        super().__init__()
        if path_to_tokenizer is None:
            raise ValueError("TokenizerFertilityFilter: path_to_tokenizer must be a SentencePiece model file")
        self._path = path_to_tokenizer
        self._threshold = min_char_to_token_ratio
        self._name = "tokenizer_fertility"
        self._tokenizer = self._load()

    def _load(self) -> Any:
        import sentencepiece

        tokenizer = sentencepiece.SentencePieceProcessor()
        try:
            tokenizer.Load(self._path)
        except (OSError, RuntimeError) as error:
            message = f"TokenizerFertilityFilter: cannot load SentencePiece model {self._path!r}: {error}"
            raise ValueError(message) from error
        return tokenizer

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_tokenizer"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._tokenizer = self._load()

    def score_document(self, source: str) -> float:
        pieces = self._tokenizer.encode_as_pieces(source)
        return len(source) / len(pieces) if pieces else -1

    def keep_document(self, score: float) -> bool:
        return score >= self._threshold


class XMLHeaderFilter(DocumentFilter):
    """Removes files that are really XML: "<?xml version=" in the first `char_prefix_search_length` characters.

    Score: 1 when found, else 0 (StarCoder).
    """

    def __init__(self, char_prefix_search_length: int = 100) -> None:
        super().__init__()
        self._char_prefix_search_length = char_prefix_search_length
        self._name = "xml_header"

    def score_document(self, source: str) -> int:
        return int("<?xml version=" in source[: self._char_prefix_search_length])

    def keep_document(self, score: float) -> bool:
        return score != 1


class AlphaFilter(DocumentFilter):
    """Removes files that are mostly numbers or tables (StarCoder): letters / characters >= `min_alpha_ratio`.

    Letters are characters of the Unicode Alphabetic property.
    """

    def __init__(self, min_alpha_ratio: float = 0.25) -> None:
        super().__init__()
        self._min_alpha_ratio = min_alpha_ratio
        self._name = "alpha_filter"

    def score_document(self, source: str) -> float:
        return _ratio(len(regex_alpha.findall(source)), len(source))

    def keep_document(self, score: float) -> bool:
        return score >= self._min_alpha_ratio


class HTMLBoilerplateFilter(DocumentFilter):
    """Removes HTML files with little visible text.

    The visible text is what BeautifulSoup's "html.parser" gives without `<script>` and
    `<style>` elements. Score: its characters / the source's characters; 0 when it has fewer
    than `min_lang_content_num_chars` characters.
    """

    def __init__(self, min_lang_content_ratio: float = 0.2, min_lang_content_num_chars: int = 100) -> None:
        super().__init__()
        self._min_lang_content_ratio = min_lang_content_ratio
        self._min_lang_content_num_chars = min_lang_content_num_chars
        self._name = "html_boilerplate"

    def score_document(self, source: str) -> float | None:
        from bs4 import BeautifulSoup

        try:
            soup = BeautifulSoup(source, features="html.parser")
        except (TypeError, UnboundLocalError):
            return None
        for element in soup(["script", "style"]):
            element.extract()
        text = soup.get_text()
        if len(text) < self._min_lang_content_num_chars:
            return 0
        return len(text) / len(source)

    def keep_document(self, score: float | None) -> bool:
        return score is not None and score >= self._min_lang_content_ratio


class PerExtensionFilter(DocumentFilter):
    """StarCoder's per-extension rules for one (language, extension), read from a CSV file.

    The CSV (`metadata_file`) has a row per language and extension with the columns
    `language`, `extension`, `Include` ("1" to keep files of that kind at all),
    `Long_line_threshold`, `Alphanum_threshold` and `Alpha filter` (empty = rule off). A
    source scores 0 (removed) when its kind is not included or unknown, when a line is
    longer than the threshold, when its mean line length exceeds 100 (with a line threshold
    set), when its share of `regex_alphanum` characters is below the alphanumeric threshold,
    or its share of `str.isalpha` characters below the alpha threshold; 1 otherwise.
    Language names are lower-cased with spaces as "-" ("C#" -> "c-sharp", "F#" -> "f-sharp").
    NeMo Curator's default `metadata_file` is "code_meta.csv" in the working directory;
    the same default applies here (no table is shipped).
    """

    def __init__(self, lang: str, extension: str, metadata_file: str = "code_meta.csv") -> None:
        super().__init__()
        self._metadata_file = metadata_file
        self._lang = lang
        self._extension = extension
        self._ext_to_filter = self._load_filter_csv(metadata_file, lang)
        self._name = "per_extension_filter"

    @staticmethod
    def _load_filter_csv(path: str, language: str | None = None) -> dict[tuple[str, str], tuple]:
        rules: dict[tuple[str, str], tuple] = {}
        with open(path, newline="") as handle:
            for row in csv.DictReader(handle):
                if language is None or row["language"] == language:
                    rules[(row["language"], row["extension"])] = PerExtensionFilter._rule(row)
        if not rules:
            raise ValueError(f"PerExtensionFilter: no rules for language {language!r} in {path}")
        return rules

    @staticmethod
    def _rule(row: dict[str, str]) -> tuple[bool, int | None, float | None, float | None, float | None]:
        def number(key: str, kind: type) -> Any:
            try:
                return kind(row[key])
            except (ValueError, TypeError):
                return None

        line_max = number("Long_line_threshold", int)
        return (
            row["Include"] == "1",
            line_max,
            100 if line_max else None,
            number("Alphanum_threshold", float),
            number("Alpha filter", float),
        )

    @staticmethod
    def _language_key(lang: str) -> str:
        return {"C#": "c-sharp", "F#": "f-sharp"}.get(lang, lang.lower().replace(" ", "-"))

    def score_document(self, source: str) -> float:
        key = (self._language_key(self._lang), self._extension if self._extension is not None else "")
        if key not in self._ext_to_filter:
            logger.debug("%s: no rule for %s; file removed", self.name, key)
            return 0
        include, line_max, line_mean, alphanum_frac, alpha_frac = self._ext_to_filter[key]
        if not include:
            return 0
        lengths = [len(line) for line in source.split("\n")]
        mean_length = (len(source) + 1) / len(lengths) - 1
        if (
            (line_max and max(lengths) > line_max)
            or (line_mean and mean_length > line_mean)
            or (alphanum_frac and _ratio(len(regex_alphanum.findall(source)), len(source)) < alphanum_frac)
            or (alpha_frac and sum(map(str.isalpha, source)) < alpha_frac * len(source))
        ):
            return 0
        return 1

    def keep_document(self, score: float | None) -> bool:
        return not (score is None or score == 0)
