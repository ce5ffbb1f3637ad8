"""`Modify`: the stage that applies document modifiers to columns (NeMo Curator's parameters).

`Modify(modifier_fn, input_fields="text", output_fields=None)`: `modifier_fn` is one
modifier (`DocumentModifier` or callable) or a list applied in order. `input_fields` is one
field for all, one per modifier, or per modifier a list of fields (then the modifier is
called with the row's values as keyword arguments). `output_fields` None rewrites the
(single) input field in place; a name (or one per modifier, None entries meaning in place)
writes elsewhere. The earlier names `modifier`, `text_field` and `output_field` are accepted
too. Custom metric: `documents_modified` (rows whose output differs from their input).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from raycurator.stages.base import ProcessingStage
from raycurator.stages.text._arrow_text import python_texts, to_string_array
from raycurator.stages.text._batch import require_document_batch, set_column, text_column, with_table
from raycurator.stages.text.modifiers.doc_modifier import DocumentModifier
from raycurator.tasks import DocumentBatch

Modifier = DocumentModifier | Callable[..., Any]


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


def _input_groups(stage: str, input_fields: Any, count: int) -> list[list[str]]:
    if isinstance(input_fields, str):
        return [[input_fields] for _ in range(count)]
    if isinstance(input_fields, list | tuple) and input_fields:
        if all(isinstance(f, str) for f in input_fields):
            groups = [[f] for f in input_fields]
        elif all(isinstance(f, list | tuple) and f and all(isinstance(x, str) for x in f) for f in input_fields):
            groups = [list(f) for f in input_fields]
        else:
            raise TypeError(f"{stage}: input_fields must be a str, a list of str or a list of lists of str")
        if len(groups) == 1:
            return groups * count
        if len(groups) == count:
            return groups
        raise ValueError(f"{stage}: {len(groups)} input field entries for {count} modifiers (give 1 or {count})")
    raise TypeError(f"{stage}: input_fields must be a str, a list of str or a list of lists of str")


def _output_fields(stage: str, output_fields: Any, inputs: list[list[str]]) -> list[str]:
    def in_place(group: list[str]) -> str:
        if len(group) != 1:
            raise ValueError(f"{stage}: a modifier reading several fields {group} needs an explicit output field")
        return group[0]

    if output_fields is None:
        return [in_place(g) for g in inputs]
    if isinstance(output_fields, str):
        return [output_fields] * len(inputs)
    if isinstance(output_fields, list | tuple):
        names = list(output_fields)
        if len(names) == 1:
            names = names * len(inputs)
        if len(names) != len(inputs):
            count = len(inputs)
            raise ValueError(f"{stage}: {len(names)} output fields for {count} modifiers (give 1 or {count})")
        return [in_place(g) if n is None else n for n, g in zip(names, inputs, strict=True)]
    raise TypeError(f"{stage}: output_fields must be None, a str or a list of str/None")


class Modify(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Rewrites fields with one or more modifiers, in order (see the module docstring)."""

    def __init__(
        self,
        modifier_fn: Modifier | list[Modifier] | None = None,
        input_fields: str | list[str] | list[list[str]] = "text",
        output_fields: str | list[str | None] | None = None,
        *,
        modifier: Modifier | list[Modifier] | None = None,
        text_field: str | None = None,
        output_field: str | None = None,
    ) -> None:
        chosen = modifier_fn if modifier_fn is not None else modifier
        if chosen is None:
            raise ValueError("Modify: needs at least one modifier (modifier_fn)")
        self.modifiers = list(chosen) if isinstance(chosen, list | tuple) else [chosen]
        if not self.modifiers:
            raise ValueError("Modify: needs at least one modifier")
        for item in self.modifiers:
            if not (callable(item) or hasattr(item, "modify_document") or hasattr(item, "modify_documents")):
                raise TypeError(f"Modify: {item!r} is neither a DocumentModifier nor a callable")
        self.input_fields = text_field if text_field is not None else input_fields
        self.output_fields = output_field if output_field is not None else output_fields
        #: The single input / output field when there is one (earlier attribute names).
        self.text_field = self.input_fields if isinstance(self.input_fields, str) else None
        self.output_field = self.output_fields if isinstance(self.output_fields, str) else None
        self._inputs = _input_groups("Modify", self.input_fields, len(self.modifiers))
        self._outputs = _output_fields("Modify", self.output_fields, self._inputs)
        self._name = "Modify_" + "_".join(_label(m) for m in self.modifiers)

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], list(dict.fromkeys(f for group in self._inputs for f in group))

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], list(dict.fromkeys(self._outputs))

    def process(self, task: DocumentBatch) -> DocumentBatch:
        table = require_document_batch(self.name, task).to_pyarrow()
        changed = pa.array([False] * table.num_rows, pa.bool_())
        for modifier, group, output in zip(self.modifiers, self._inputs, self._outputs, strict=True):
            if len(group) == 1:
                original, missing = text_column(self, task, table, group[0])
                texts = modify_texts(modifier, original)
                if missing.true_count:  # no text stays no text (not "")
                    texts = pc.if_else(missing, pa.scalar(None, texts.type), texts)
                differs = pc.fill_null(pc.not_equal(texts.cast(original.type), original), False)
            else:
                function = modifier.modify_document if hasattr(modifier, "modify_document") else modifier
                records = table.select(group).to_pylist()
                texts = pa.array([function(**record) for record in records])
                differs = pa.array([True] * table.num_rows, pa.bool_())
            changed = pc.or_(changed, differs)
            table = set_column(table, output, texts)
        count = (pc.sum(changed).as_py() or 0) if table.num_rows else 0
        self._log_metric("documents_modified", count)
        return with_table(task, table)
