"""`Modify`: the stage that applies document modifiers to a text column."""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

from raycurator.stages.base import ProcessingStage
from raycurator.stages.text._arrow_text import python_texts, to_string_array
from raycurator.stages.text._batch import require_document_batch, set_column, text_column, with_table
from raycurator.stages.text.modifiers.doc_modifier import DocumentModifier
from raycurator.tasks import DocumentBatch

Modifier = DocumentModifier | Callable[[str], str]


def _label(obj: object) -> str:
    name = getattr(obj, "name", None)
    return name if isinstance(name, str) and name else getattr(obj, "__name__", type(obj).__name__)


def modify_texts(modifier: Modifier, texts: pa.Array) -> pa.Array:
    """`texts` rewritten by a modifier (vectorised when it can) or a `text -> text` callable."""
    if hasattr(modifier, "modify_documents"):
        out = modifier.modify_documents(texts)
        out = out if isinstance(out, pa.Array | pa.ChunkedArray) else pa.array(list(out), type=pa.string())
    else:
        function = modifier.modify_document if hasattr(modifier, "modify_document") else modifier
        out = pa.array([function(text) for text in python_texts(texts)], type=pa.string())
    if len(out) != len(texts):
        raise ValueError(f"modifier '{_label(modifier)}' returned {len(out)} texts for {len(texts)} documents")
    return to_string_array(out)


class Modify(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Rewrites `text_field` with one or more modifiers, in order.

    The result replaces the column, or goes to `output_field` when given. Custom metric:
    `documents_modified` (rows whose text changed).
    """

    def __init__(
        self,
        modifier: Modifier | list[Modifier],
        text_field: str = "text",
        output_field: str | None = None,
    ) -> None:
        self.modifiers = list(modifier) if isinstance(modifier, list | tuple) else [modifier]
        if not self.modifiers:
            raise ValueError("Modify: needs at least one modifier")
        for item in self.modifiers:
            if not (callable(item) or hasattr(item, "modify_document") or hasattr(item, "modify_documents")):
                raise TypeError(f"Modify: {item!r} is neither a DocumentModifier nor a callable")
        self.text_field = text_field
        self.output_field = output_field
        self._name = "Modify_" + "_".join(_label(m) for m in self.modifiers)

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [self.text_field]

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [self.output_field or self.text_field]

    def process(self, task: DocumentBatch) -> DocumentBatch:
        table = require_document_batch(self.name, task).to_pyarrow()
        original, missing = text_column(self, task, table, self.text_field)
        texts = original
        for modifier in self.modifiers:
            texts = modify_texts(modifier, texts)
        if missing.true_count:  # no text stays no text (not "")
            texts = pc.if_else(missing, pa.scalar(None, texts.type), texts)
        if len(texts):
            changed = pc.sum(pc.not_equal(texts.cast(original.type), original)).as_py() or 0
        else:
            changed = 0
        self._log_metric("documents_modified", changed)
        return with_table(task, set_column(table, self.output_field or self.text_field, texts))
