"""`ArxivExtractor`: a paper's LaTeX sources → its body text, cleaned as NeMo Curator cleans it.

Per `.tex` file: everything before the first sectioning command is dropped (a file without
one contributes nothing), comments are removed, everything from `\\appendix`, the references
or the bibliography on is dropped, and macros without arguments (`\\newcommand{\\x}{...}`,
`\\def\\x{...}`, defined in any of the paper's files) are expanded. The files are joined by
newlines. Macros with arguments are left as they are.
"""

from __future__ import annotations

import re
from typing import Any

from raycurator.stages.text.download.base.extract import DocumentExtractor
from raycurator.stages.text.download.base.skips import SkipReason

_NEWCOMMAND = re.compile(r"\\\bnewcommand\b\*?\{(\\[a-zA-Z0-9]+?)\}\{(.*?)\}$", re.MULTILINE)
_DEF = re.compile(r"\\def\s*(\\[a-zA-Z0-9]+?)\s*\{(.*?)\}$", re.MULTILINE)
_HEADER = re.compile(
    r"\\\b(?:chapter|part|section|subsection|subsubsection|paragraph|subparagraph)\b\*?(?:\[(?:.*?)\])?\{(?:.*?)\}",
    re.DOTALL,
)
_COMMENT_LINE = re.compile(r"(?m)^%.*\n?")
_INLINE_COMMENT = re.compile(r"[^\\]%.+$", re.MULTILINE)
_BACK_MATTER = re.compile(
    r"(?:\\appendix|\\begin\{references\}|\\begin\{REFERENCES\}|\\begin\{thebibliography\}|\\bibliography\{.*\}).*$",
    re.DOTALL,
)


def argument_free_macros(source: str) -> dict[str, str]:
    """`{"\\name": value}` for the macros without arguments that `source` defines."""
    return {match.group(1): match.group(2) for pattern in (_NEWCOMMAND, _DEF) for match in pattern.finditer(source)}


def clean_tex(source: str, macros: dict[str, str]) -> str:
    """The body of one `.tex` file, cleaned (see the module's docstring)."""
    header = _HEADER.search(source)
    if header is None:
        return ""
    text = source[header.start() :]
    text = _COMMENT_LINE.sub("", text)
    text = _INLINE_COMMENT.sub("", text)
    text = _BACK_MATTER.sub("", text)
    for name, value in macros.items():
        text = re.sub(re.escape(name) + r"(?=[^a-zA-Z0-9])", lambda _m, v=value: v, text)
    return text


class ArxivExtractor(DocumentExtractor):
    """Turns `{id, source_id, content}` into `{text}` (NeMo Curator keeps only the text)."""

    def input_columns(self) -> list[str]:
        return ["id", "source_id", "content"]

    def output_columns(self) -> list[str]:
        return ["text"]

    def extract(self, record: dict[str, Any]) -> dict[str, Any] | None:
        sources = record.get("content") or []
        macros: dict[str, str] = {}
        for source in sources:
            macros.update(argument_free_macros(source))
        text = "\n".join(clean_tex(source, macros) for source in sources)
        if not text:
            self._count_skip(SkipReason.NO_TEXT)
            return None
        return {"text": text}
