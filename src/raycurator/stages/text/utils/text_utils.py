"""Text helpers of the filters and modifiers: words, lines, paragraphs, n-grams, code comments.

Definitions follow NeMo Curator 1.4 (`nemo_curator.stages.text.utils.text_utils`) so that
scores built on them agree: a "sentence" is a non-blank line, a "paragraph" is what lies
between two "\\n\\n", and words are whitespace-separated except for Chinese (jieba) and
Japanese (MeCab through `fugashi` with the `unidic-lite` dictionary).
"""

from __future__ import annotations

import ast
import io
import logging
import string
import tokenize
from collections.abc import Callable, Iterator
from functools import cache
from itertools import pairwise

logger = logging.getLogger(__name__)

WordSplitter = Callable[[str], list[str]]


def _whitespace_split(text: str) -> list[str]:
    return text.split()


def _jieba_split(text: str) -> list[str]:
    import jieba

    return list(jieba.cut(text))


@cache
def _mecab_tagger() -> object:
    """One MeCab tagger per process (fugashi, unidic-lite dictionary found on disk)."""
    try:
        import fugashi
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("lang='ja' needs the 'fugashi' and 'unidic-lite' packages (raycurator[text])") from error
    return fugashi.Tagger()


def _mecab_split(text: str) -> list[str]:
    # MeCab's text output: one "surface<TAB>features" line per token, then "EOS".
    parsed = _mecab_tagger().parse(text)
    return [line.split("\t")[0] for line in parsed.strip().split("\n") if line and line != "EOS"]


def get_word_splitter(language: str) -> WordSplitter:
    """A `text -> words` function for an ISO 639-1 code: jieba for "zh", MeCab for "ja", else `str.split`."""
    language = language.lower()
    if language == "zh":
        import jieba  # noqa: F401  (fail at construction, not on the first document)

        return _jieba_split
    if language == "ja":
        _mecab_tagger()
        return _mecab_split
    return _whitespace_split


def get_paragraphs(document: str) -> list[str]:
    """The pieces of `document` between "\\n\\n" separators (blank pieces included)."""
    return document.split("\n\n")


def get_sentences(document: str) -> list[str]:
    """The lines of `document` (split on "\\n") that are not blank, unstripped."""
    return [line for line in document.split("\n") if line.strip()]


def get_ngrams(input_list: list[str], n: int) -> list[tuple[str, ...]]:
    """The consecutive `n`-tuples of `input_list`."""
    return list(zip(*(input_list[i:] for i in range(n)), strict=False))


def is_paragraph_indices_in_top_or_bottom_only(boilerplate_paragraph_indices: list[int], num_paragraphs: int) -> bool:
    """Whether the (sorted) indices form one run touching the first or the last paragraph, not all of them."""
    indices = boilerplate_paragraph_indices
    if len(indices) == num_paragraphs:
        return False
    contiguous = all(b == a + 1 for a, b in pairwise(indices))
    return contiguous and (indices[0] == 0 or indices[-1] == num_paragraphs - 1)


def remove_punctuation(str_in: str) -> str:
    """`str_in` without the ASCII punctuation characters of `string.punctuation`."""
    return str_in.translate(str.maketrans("", "", string.punctuation))


def get_words(text: str) -> tuple[list[str], list[int]]:
    """Lower-cased, punctuation-free words split on spaces, and where each word starts.

    The start positions index the lower-cased text with punctuation removed.
    """
    cleaned = remove_punctuation(text.lower())
    words: list[str] = []
    starts: list[int] = []
    previous = 0
    for i, char in enumerate(cleaned):
        if char != " " and (i == 0 or cleaned[i - 1] == " "):
            starts.append(i)
            if i:
                words.append(cleaned[previous:i].strip())
            previous = i
    if cleaned:
        words.append(cleaned[previous:].strip())
        if words[0] == "":
            words = words[1:]
    return words, starts


_DOCSTRING_NODES = (ast.ClassDef, ast.FunctionDef, ast.Module)
_NODE_ORDER = {ast.ClassDef: "Class", ast.FunctionDef: "Function/Method", ast.Module: "Module"}


def parse_docstrings(source: str) -> Iterator[tuple[ast.AST, str | None, str | None]]:
    """(node, name, docstring) for every module, class and (sync) function of Python `source`."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, _DOCSTRING_NODES):
            yield node, getattr(node, "name", None), ast.get_docstring(node)


def get_docstrings(source: str) -> list[str]:
    """The non-empty docstrings of Python `source`, classes first, then functions, then the module."""
    found = sorted(parse_docstrings(source), key=lambda item: (_NODE_ORDER[type(item[0])], item[1] or ""))
    return [doc for _, _, doc in found if doc]


def get_comments(source: str, clean: bool = False) -> str:
    """The "#" comments of Python `source`, re-assembled by `tokenize.untokenize` ("#" dropped when `clean`)."""
    comments = [
        (token.type, token.string)
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.COMMENT
    ]
    result = tokenize.untokenize(comments)
    return result.replace("#", "") if clean else result


def get_comments_and_docstring(
    source: str, comments: bool = True, clean_comments: bool = False
) -> tuple[str | None, str | None]:
    """(docstrings joined by "\\n", comments) of Python `source`; None for a part that cannot be parsed."""
    try:
        docstrings: str | None = "\n".join(get_docstrings(source))
    except Exception as error:
        logger.debug("docstrings not extracted: %s", error)
        docstrings = None
    if not comments:
        return docstrings, ""
    try:
        found: str | None = get_comments(source, clean=clean_comments)
    except Exception as error:
        logger.debug("comments not extracted: %s", error)
        found = None
    return docstrings, found
