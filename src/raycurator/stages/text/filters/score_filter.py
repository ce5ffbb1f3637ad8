"""`Score`, `Filter` and `ScoreFilter`: stages applying document filters to whole batches.

Each works on the batch's Arrow table at once, using a filter's vectorised
`score_documents` / `keep_documents` when it has them. Plain callables are accepted too:
`text -> score` for scoring, `score -> bool` for filtering.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from raycurator.stages.base import ProcessingStage
from raycurator.stages.text._arrow_text import python_texts, to_string_array
from raycurator.stages.text._batch import require_document_batch, set_column, with_table
from raycurator.stages.text.filters.doc_filter import DocumentFilter, _as_array
from raycurator.tasks import DocumentBatch

Scorer = DocumentFilter | Callable[[str], Any]
Decider = DocumentFilter | Callable[[Any], bool]


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _label(obj: Any) -> str:
    name = getattr(obj, "name", None)
    if isinstance(name, str) and name:
        return name
    return getattr(obj, "__name__", type(obj).__name__)


def score_texts(scorer: Scorer, texts: pa.Array) -> np.ndarray:
    """Scores of `texts` by a filter (vectorised when it can) or a `text -> score` callable."""
    if hasattr(scorer, "score_documents"):
        scores = scorer.score_documents(texts)
        scores = scores if isinstance(scores, np.ndarray) else _as_array(list(scores))
    else:
        function = scorer.score_document if hasattr(scorer, "score_document") else scorer
        scores = _as_array([function(text) for text in python_texts(texts)])
    if len(scores) != len(texts):
        raise ValueError(f"scorer '{_label(scorer)}' returned {len(scores)} scores for {len(texts)} documents")
    return scores


def keep_mask(decider: Decider, scores: np.ndarray | Sequence[Any]) -> np.ndarray:
    """Keep decisions for `scores` by a filter (vectorised when it can) or a `score -> bool` callable."""
    if hasattr(decider, "keep_documents"):
        mask = np.asarray(decider.keep_documents(scores), dtype=bool)
    else:
        function = decider.keep_document if hasattr(decider, "keep_document") else decider
        mask = np.fromiter((bool(function(s)) for s in scores), dtype=bool, count=len(scores))
    if mask.shape != (len(scores),):
        raise ValueError(f"filter '{_label(decider)}' returned {mask.shape} decisions for {len(scores)} scores")
    return mask


def _score_column(scores: np.ndarray) -> pa.Array:
    return pa.array(scores.tolist()) if scores.dtype == object else pa.array(scores)


def _column_values(table: pa.Table, field: str) -> np.ndarray:
    """A score column as NumPy; numeric nulls become NaN (so comparisons with them are False)."""
    column = table[field]
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        if column.null_count:
            column = pc.cast(column, pa.float64())
        return column.to_numpy()
    if pa.types.is_boolean(column.type) and column.null_count == 0:
        return column.to_numpy()
    return _as_array(column.to_pylist())


def load_models(objects: list[Any]) -> None:
    """Loads the model of every filter that has one (`load_model`), once per worker."""
    for obj in objects:
        load = getattr(obj, "load_model", None)
        if callable(load):
            load()


def _check_pairs(stage: str, objects: list[Any], fields: list[Any], what: str) -> None:
    if not objects:
        raise ValueError(f"{stage}: needs at least one filter or function")
    if len(fields) != len(objects):
        raise ValueError(f"{stage}: got {len(objects)} filter(s)/function(s) but {len(fields)} {what}(s): {fields}")


class Score(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Adds a score column per scorer (`DocumentFilter` or `text -> score` callable); removes nothing."""

    def __init__(
        self,
        score_fn: Scorer | list[Scorer],
        score_field: str | list[str],
        text_field: str = "text",
    ) -> None:
        self.score_fns = _as_list(score_fn)
        self.score_fields = _as_list(score_field)
        _check_pairs("Score", self.score_fns, self.score_fields, "score_field")
        self.text_field = text_field
        self._name = "Score_" + "_".join(self.score_fields)

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [self.text_field]

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [self.text_field, *self.score_fields]

    def setup(self, worker_metadata: Any = None) -> None:
        """Loads the scorers' models (fastText, ...) once in this worker."""
        load_models(self.score_fns)

    def process(self, task: DocumentBatch) -> DocumentBatch:
        table = require_document_batch(self.name, task).to_pyarrow()
        texts = to_string_array(table[self.text_field])
        for scorer, field in zip(self.score_fns, self.score_fields, strict=True):
            table = set_column(table, field, _score_column(score_texts(scorer, texts)))
        return with_table(task, table)


class Filter(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Keeps rows whose existing score column(s) pass the filter(s); `invert` keeps the others."""

    def __init__(
        self,
        filter_fn: Decider | list[Decider],
        filter_field: str | list[str],
        invert: bool = False,
    ) -> None:
        self.filter_fns = _as_list(filter_fn)
        self.filter_fields = _as_list(filter_field)
        _check_pairs("Filter", self.filter_fns, self.filter_fields, "filter_field")
        self.invert = invert
        self._name = "Filter_" + "_".join(self.filter_fields)

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], list(self.filter_fields)

    def process(self, task: DocumentBatch) -> DocumentBatch:
        table = require_document_batch(self.name, task).to_pyarrow()
        mask = np.ones(table.num_rows, dtype=bool)
        for decider, field in zip(self.filter_fns, self.filter_fields, strict=True):
            mask &= keep_mask(decider, _column_values(table, field))
        if self.invert:
            mask = ~mask
        kept = int(mask.sum())
        self._log_metrics({"documents_in": table.num_rows, "documents_removed": table.num_rows - kept})
        return with_table(task, table.filter(pa.array(mask)))


class ScoreFilter(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Scores documents with one or more `DocumentFilter`s and keeps those every filter keeps.

    Filters run in order, each on the documents the previous ones kept. `score_field` (one
    name per filter, None entries allowed) stores the scores as columns. With `invert=True`
    the stage keeps exactly the documents it would otherwise remove. Custom metrics:
    `documents_in`, `documents_removed` and, per filter, `removed_by_<filter name>`
    (`rejected_by_<filter name>` when inverted).
    """

    def __init__(
        self,
        filter_obj: DocumentFilter | list[DocumentFilter],
        text_field: str = "text",
        score_field: str | list[str | None] | None = None,
        invert: bool = False,
    ) -> None:
        self.filter_objs = _as_list(filter_obj)
        fields = [None] * len(self.filter_objs) if score_field is None else _as_list(score_field)
        _check_pairs("ScoreFilter", self.filter_objs, fields, "score_field")
        for obj in self.filter_objs:
            if not (hasattr(obj, "score_document") or hasattr(obj, "score_documents")):
                raise TypeError(f"ScoreFilter: {obj!r} is not a DocumentFilter (no score_document method)")
        self.score_fields: list[str | None] = fields
        self.text_field = text_field
        self.invert = invert
        self._name = "ScoreFilter_" + "_".join(_label(f) for f in self.filter_objs)

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [self.text_field]

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [self.text_field, *(f for f in self.score_fields if f)]

    def setup(self, worker_metadata: Any = None) -> None:
        """Loads the filters' models (fastText, ...) once in this worker."""
        load_models(self.filter_objs)

    def process(self, task: DocumentBatch) -> DocumentBatch:
        table = require_document_batch(self.name, task).to_pyarrow()
        texts = to_string_array(table[self.text_field])
        metrics: dict[str, float] = {}
        if self.invert:
            selected, scores_by_field = self._rejected_rows(texts, metrics)
        else:
            selected, scores_by_field = self._kept_rows(texts, metrics)
        total = table.num_rows
        out = table if len(selected) == total else table.take(pa.array(selected, type=pa.int64()))
        for field, scores in scores_by_field.items():
            out = set_column(out, field, _score_column(scores))
        metrics["documents_in"] = float(total)
        metrics["documents_removed"] = float(total - out.num_rows)
        self._log_metrics(metrics)
        return with_table(task, out)

    def _kept_rows(self, texts: pa.Array, metrics: dict[str, float]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Rows every filter keeps, and their scores; each filter scores only the survivors so far."""
        selected = np.arange(len(texts))
        scores_by_field: dict[str, np.ndarray] = {}
        for obj, field in zip(self.filter_objs, self.score_fields, strict=True):
            subset = texts if len(selected) == len(texts) else texts.take(pa.array(selected))
            scores = score_texts(obj, subset)
            keep = keep_mask(obj, scores)
            metrics[f"removed_by_{_label(obj)}"] = float(len(keep) - keep.sum())
            if field:
                scores_by_field[field] = scores
            if not keep.all():
                selected = selected[keep]
                scores_by_field = {k: v[keep] for k, v in scores_by_field.items()}
        return selected, scores_by_field

    def _rejected_rows(self, texts: pa.Array, metrics: dict[str, float]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Rows some filter would remove (every filter scores every row), and their scores."""
        passes = np.ones(len(texts), dtype=bool)
        scores_by_field: dict[str, np.ndarray] = {}
        for obj, field in zip(self.filter_objs, self.score_fields, strict=True):
            scores = score_texts(obj, texts)
            keep = keep_mask(obj, scores)
            metrics[f"rejected_by_{_label(obj)}"] = float(len(keep) - keep.sum())
            if field:
                scores_by_field[field] = scores
            passes &= keep
        selected = np.flatnonzero(~passes)
        return selected, {k: v[selected] for k, v in scores_by_field.items()}
