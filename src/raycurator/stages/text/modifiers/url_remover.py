"""`UrlRemover`: deletes URLs from the text (NeMo Curator's pattern)."""

from __future__ import annotations

import re

from raycurator.stages.text.modifiers.doc_modifier import DocumentModifier

#: "http(s)://" or "www." and everything up to the next whitespace, any case.
URL_REGEX = re.compile(r"https?://\S+|www\.\S+", flags=re.IGNORECASE)


class UrlRemover(DocumentModifier):
    """Removes every URL: "http(s)://" or "www." up to the next (Unicode) whitespace."""

    def modify_document(self, text: str) -> str:
        return URL_REGEX.sub("", text)
