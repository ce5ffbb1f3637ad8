"""`Slicer`: keeps the part of a document between two indices or marker strings."""

from __future__ import annotations

from raycurator.stages.text.modifiers.doc_modifier import DocumentModifier


class Slicer(DocumentModifier):
    """Keeps `text[left:right]`, where each end is an index or a marker string.

    `left` as a string starts at its first occurrence (after it unless `include_left`);
    `right` as a string ends at its last occurrence (after it when `include_right`). A marker
    that is not found empties the document. `right=None` means the end. The result is
    stripped when `strip` is True.
    """

    def __init__(
        self,
        left: int | str | None = 0,
        right: int | str | None = None,
        include_left: bool = True,
        include_right: bool = True,
        strip: bool = True,
    ) -> None:
        super().__init__()
        for name, value in (("left", left), ("right", right)):
            if value is not None and not isinstance(value, int | str):
                raise TypeError(f"Slicer: {name} must be an int, a str or None, got {value!r}")
        self._left = left
        self._right = right
        self._include_left = include_left
        self._include_right = include_right
        self._strip = strip

    def modify_document(self, text: str) -> str:
        start = 0
        if isinstance(self._left, int):
            start = self._left
        elif isinstance(self._left, str):
            found = text.find(self._left)
            if found == -1:
                return ""
            start = found if self._include_left else found + len(self._left)
        end = len(text)
        if isinstance(self._right, int):
            end = self._right
        elif isinstance(self._right, str):
            found = text.rfind(self._right)
            if found == -1:
                return ""
            end = found + len(self._right) if self._include_right else found
        result = text[start:end]
        return result.strip() if self._strip else result
