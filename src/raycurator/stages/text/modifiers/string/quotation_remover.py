"""`QuotationRemover`: removes the double quotes wrapping a whole document."""

from __future__ import annotations

from raycurator.stages.text.modifiers.doc_modifier import DocumentModifier


class QuotationRemover(DocumentModifier):
    """Drops a leading and a trailing '"' around a document (NeMo Curator's rule).

    Only when the stripped text is longer than 2 characters, the first and last characters
    are '"', and either the stripped text has no newline or its first line does not end
    with '"' (so a quoted first line followed by more text is left alone).
    """

    def modify_document(self, text: str) -> str:
        if len(text.strip()) > 2 and text[0] == '"' and text[-1] == '"':
            if "\n" not in text.strip() or not text.split("\n")[0].endswith('"'):
                return text[1:-1]
        return text
