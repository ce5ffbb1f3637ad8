"""`UnicodeReformatter`: Unicode normalisation and a few ftfy-style clean-ups, vectorised."""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc

from raycurator.stages.text._arrow_text import to_string_array
from raycurator.stages.text.modifiers.doc_modifier import VectorizedModifier

_NORMALIZATIONS = ("NFC", "NFD", "NFKC", "NFKD")
_LINE_BREAKS = (("\r\n", "\n"), ("\r", "\n"), ("\u2028", "\n"), ("\u2029", "\n"), ("\x85", "\n"))
# C0 and C1 control characters except tab and newline (and the line breaks handled above).
_CONTROL_CHARACTERS = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f]"
_SINGLE_QUOTES = "\u2018\u2019\u201a\u201b"
_DOUBLE_QUOTES = "\u201c\u201d\u201e\u201f"
_CURLY_QUOTES = tuple((c, "'") for c in _SINGLE_QUOTES) + tuple((c, '"') for c in _DOUBLE_QUOTES)
_LIGATURES = tuple(
    zip("\ufb00\ufb01\ufb02\ufb03\ufb04\ufb05\ufb06", ("ff", "fi", "fl", "ffi", "ffl", "st", "st"), strict=True)
)


class UnicodeReformatter(VectorizedModifier):
    """Normalises Unicode (NFC by default) and applies simple fixes ftfy also makes.

    Fixes, each optional: `fix_line_breaks` (CRLF, CR, U+2028/2029, NEL -> "\\n"),
    `remove_control_chars` (C0/C1 controls other than tab and newline), `uncurl_quotes`
    (curly to straight quotes), `fix_latin_ligatures` ("ﬁ" -> "fi"). Mojibake repair is not
    attempted.
    """

    def __init__(
        self,
        normalization: str | None = "NFC",
        fix_line_breaks: bool = True,
        remove_control_chars: bool = True,
        uncurl_quotes: bool = True,
        fix_latin_ligatures: bool = True,
    ) -> None:
        super().__init__()
        if normalization is not None and normalization not in _NORMALIZATIONS:
            raise ValueError(
                f"UnicodeReformatter: normalization must be one of {_NORMALIZATIONS} or None, got {normalization!r}"
            )
        self.normalization = normalization
        self.fix_line_breaks = fix_line_breaks
        self.remove_control_chars = remove_control_chars
        self.uncurl_quotes = uncurl_quotes
        self.fix_latin_ligatures = fix_latin_ligatures

    def modify_documents(self, texts: pa.Array | pa.ChunkedArray | Iterable[str]) -> pa.Array:
        out = to_string_array(texts)
        replacements: list[tuple[str, str]] = []
        if self.fix_line_breaks:
            replacements.extend(_LINE_BREAKS)
        if self.uncurl_quotes:
            replacements.extend(_CURLY_QUOTES)
        if self.fix_latin_ligatures:
            replacements.extend(_LIGATURES)
        for old, new in replacements:
            out = pc.replace_substring(out, old, new)
        if self.remove_control_chars:
            out = pc.replace_substring_regex(out, _CONTROL_CHARACTERS, "")
        if self.normalization:
            out = pc.utf8_normalize(out, self.normalization)
        return out
