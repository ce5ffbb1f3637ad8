"""`UnicodeReformatter`: repairs mojibake and other encoding damage with ftfy (NeMo Curator's defaults).

ftfy (https://ftfy.readthedocs.io) is the maintained library for this job: it detects text
that was decoded with the wrong codec ("cafÃ©" -> "café"), HTML entities, terminal escapes,
C1 controls, surrogates and lossy sequences, and only changes text when the evidence is
strong. Every option is ftfy's `TextFixerConfig` field of the same name, with NeMo Curator
1.4's defaults (which differ from ftfy's own: ligatures, widths, quotes, line breaks and
normalisation are left alone unless asked for).
"""

from __future__ import annotations

from typing import Literal

import ftfy
from ftfy import TextFixerConfig

from raycurator.stages.text.modifiers.doc_modifier import DocumentModifier

_NORMALIZATIONS = ("NFC", "NFD", "NFKC", "NFKD")


class UnicodeReformatter(DocumentModifier):
    """Fixes a document with `ftfy.fix_text` under a `TextFixerConfig` (given, or built from the options)."""

    def __init__(
        self,
        config: TextFixerConfig | None = None,
        unescape_html: str | bool = "auto",
        remove_terminal_escapes: bool = True,
        fix_encoding: bool = True,
        restore_byte_a0: bool = True,
        replace_lossy_sequences: bool = True,
        decode_inconsistent_utf8: bool = True,
        fix_c1_controls: bool = True,
        fix_latin_ligatures: bool = False,
        fix_character_width: bool = False,
        uncurl_quotes: bool = False,
        fix_line_breaks: bool = False,
        fix_surrogates: bool = True,
        remove_control_chars: bool = True,
        normalization: Literal["NFC", "NFD", "NFKC", "NFKD"] | None = None,
        max_decode_length: int = 1000000,
        explain: bool = True,
    ) -> None:
        super().__init__()
        if normalization is not None and normalization not in _NORMALIZATIONS:
            raise ValueError(
                f"UnicodeReformatter: normalization must be one of {_NORMALIZATIONS} or None, got {normalization!r}"
            )
        self.config = config or TextFixerConfig(
            unescape_html=unescape_html,
            remove_terminal_escapes=remove_terminal_escapes,
            fix_encoding=fix_encoding,
            restore_byte_a0=restore_byte_a0,
            replace_lossy_sequences=replace_lossy_sequences,
            decode_inconsistent_utf8=decode_inconsistent_utf8,
            fix_c1_controls=fix_c1_controls,
            fix_latin_ligatures=fix_latin_ligatures,
            fix_character_width=fix_character_width,
            uncurl_quotes=uncurl_quotes,
            fix_line_breaks=fix_line_breaks,
            fix_surrogates=fix_surrogates,
            remove_control_chars=remove_control_chars,
            normalization=normalization,
            max_decode_length=max_decode_length,
            explain=explain,
        )

    @property
    def normalization(self) -> str | None:
        """The Unicode normalisation applied last (None: none)."""
        return self.config.normalization

    def modify_document(self, text: str) -> str:
        return ftfy.fix_text(text, config=self.config)
