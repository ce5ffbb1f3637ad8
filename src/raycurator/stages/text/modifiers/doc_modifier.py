"""`DocumentModifier`: rewrites the text of a document."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable

import pyarrow as pa

from raycurator.stages.text._arrow_text import python_texts


class DocumentModifier(ABC):
    """Rewrites one document with `modify_document(text) -> str`.

    Modifiers that can rewrite a whole Arrow string array at once override
    `modify_documents`; the default loops over `modify_document`. Modifiers must be picklable.
    """

    def __init__(self) -> None:
        self._name = type(self).__name__

    @property
    def name(self) -> str:
        """The modifier's name (used in stage names and metrics)."""
        return getattr(self, "_name", None) or type(self).__name__

    @abstractmethod
    def modify_document(self, text: str) -> str:
        """The rewritten text of one document."""

    def modify_documents(self, texts: pa.Array | pa.ChunkedArray | Iterable[str]) -> pa.Array:
        """The rewritten texts of many documents, as a string array (default: one at a time)."""
        return pa.array([self.modify_document(text) for text in python_texts(texts)], type=pa.string())

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class VectorizedModifier(DocumentModifier):
    """A modifier written over Arrow arrays; `modify_document` runs a batch of one."""

    @abstractmethod
    def modify_documents(self, texts: pa.Array | pa.ChunkedArray | Iterable[str]) -> pa.Array:
        """The rewritten texts (a string array of the same length)."""

    def modify_document(self, text: str) -> str:
        return self.modify_documents(pa.array([text], type=pa.string()))[0].as_py()
