"""`MarkdownRemover`: strips Markdown emphasis and link syntax, line by line."""

from __future__ import annotations

import re

from raycurator.stages.text.modifiers.doc_modifier import DocumentModifier

#: Applied in this order to every line (NeMo Curator's patterns): bold, italic, underline, link.
MARKDOWN_PATTERNS = (
    (re.compile(r"\*\*(.*?)\*\*"), r"\1"),
    (re.compile(r"\*(.*?)\*"), r"\1"),
    (re.compile(r"_(.*?)_"), r"\1"),
    (re.compile(r"\[.*?\]\((.*?)\)"), r"\1"),
)


class MarkdownRemover(DocumentModifier):
    """Removes `**bold**`, `*italic*` and `_underline_` markers and turns `[text](url)` into the url.

    As in NeMo Curator, a link keeps its URL, not its text, and any text between two
    underscores loses them (snake_case_names included).
    """

    def modify_document(self, text: str) -> str:
        lines = text.split("\n")
        for pattern, replacement in MARKDOWN_PATTERNS:
            lines = [pattern.sub(replacement, line) for line in lines]
        return "\n".join(lines)
