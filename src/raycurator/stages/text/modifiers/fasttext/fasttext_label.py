"""`FastTextLabelModifier`: turns a document into a fastText training line carrying a label."""

from __future__ import annotations

from raycurator.stages.text.modifiers.doc_modifier import DocumentModifier

_LABEL_PREFIX = "__label__"


def fasttext_line(text: str) -> str:
    """`text` on one line, with any `__label__` inside it defused (fastText would read it as a label)."""
    return text.replace("\r", " ").replace("\n", " ").replace(_LABEL_PREFIX, " ")


class FastTextLabelModifier(DocumentModifier):
    """Prefixes each document with `label` (e.g. `__label__hq`) on a single line, as fastText trains on."""

    def __init__(self, label: str) -> None:
        super().__init__()
        if not label.startswith(_LABEL_PREFIX) or not label[len(_LABEL_PREFIX) :] or any(c.isspace() for c in label):
            raise ValueError(f"FastTextLabelModifier: label must look like '__label__NAME' (no spaces), got {label!r}")
        self.label = label

    def modify_document(self, text: str) -> str:
        return f"{self.label} {fasttext_line(text)}"

    def __repr__(self) -> str:
        return f"FastTextLabelModifier(label={self.label!r})"
