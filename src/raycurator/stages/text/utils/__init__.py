"""Text helpers shared by filters and modifiers (NeMo Curator's `stages.text.utils`)."""

from raycurator.stages.text.utils.text_utils import (
    get_comments,
    get_comments_and_docstring,
    get_docstrings,
    get_ngrams,
    get_paragraphs,
    get_sentences,
    get_word_splitter,
    get_words,
    is_paragraph_indices_in_top_or_bottom_only,
    parse_docstrings,
    remove_punctuation,
)

__all__ = [
    "get_comments",
    "get_comments_and_docstring",
    "get_docstrings",
    "get_ngrams",
    "get_paragraphs",
    "get_sentences",
    "get_word_splitter",
    "get_words",
    "is_paragraph_indices_in_top_or_bottom_only",
    "parse_docstrings",
    "remove_punctuation",
]
