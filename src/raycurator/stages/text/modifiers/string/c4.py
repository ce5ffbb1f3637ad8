"""`BoilerPlateStringModifier`: drops policy / cookie boilerplate paragraphs (C4, NeMo Curator's rules)."""

from __future__ import annotations

from raycurator.stages.text.modifiers.doc_modifier import DocumentModifier
from raycurator.stages.text.utils.constants import policy_substrings
from raycurator.stages.text.utils.text_utils import get_paragraphs, is_paragraph_indices_in_top_or_bottom_only


class BoilerPlateStringModifier(DocumentModifier):
    """Removes boilerplate paragraphs (pieces between "\\n\\n"), as NeMo Curator 1.4 does.

    A paragraph mentioning "lorem ipsum" empties the whole document. A paragraph containing a
    phrase of `policy_substrings` empties the document when `remove_if_at_top_or_bottom` is
    False; when True, boilerplate paragraphs are dropped if they form one run at the top or
    at the bottom (and are not all of the paragraphs), otherwise the document is unchanged.
    """

    def __init__(self, remove_if_at_top_or_bottom: bool = True) -> None:
        super().__init__()
        self._remove_if_at_top_or_bottom = remove_if_at_top_or_bottom
        self._name = "boilerplate_string_ratio"

    def modify_document(self, text: str) -> str:
        paragraphs = get_paragraphs(text)
        found: list[int] = []
        for index, paragraph in enumerate(paragraphs):
            lowered = paragraph.strip().lower()
            if "lorem ipsum" in lowered:
                return ""
            if any(phrase in lowered for phrase in policy_substrings):
                if not self._remove_if_at_top_or_bottom:
                    return ""
                found.append(index)
        if not found or not is_paragraph_indices_in_top_or_bottom_only(found, len(paragraphs)):
            return text
        dropped = set(found)
        return "\n\n".join(p for index, p in enumerate(paragraphs) if index not in dropped)
