"""`Score`, `Filter` and `ScoreFilter`: stages applying document filters to whole batches.

Parameters follow NeMo Curator 1.4: one filter or a list of them, and per filter a text
field, a score field and an `invert` flag (a single value is used for every filter; a list
gives one per filter). Filters apply in order, each to the rows the previous ones kept.
Each stage works on the batch's Arrow table at once, using a filter's vectorised
`score_documents` / `keep_documents` when it has them; plain callables are accepted too
(`text -> score` for scoring, `score -> bool` for filtering).

`Filter` and `ScoreFilter` log, per filter, `removed_by_<filter name>` (and, when a filter
scores with reason strings such as the rule sets, `removed_by_<filter name>.<reason>`), plus
`documents_in` / `documents_removed`; with an `ExclusionWriter` they also write every
removed row, with the filter's name and score, to a separate output.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from raycurator.stages.base import ProcessingStage
from raycurator.stages.text._arrow_text import python_texts
from raycurator.stages.text._batch import require_document_batch, set_column, text_column, with_table
from raycurator.stages.text.filters.doc_filter import DocumentFilter, _as_array
from raycurator.stages.text.filters.exclusion import EXCLUDED_DOCUMENTS, ExclusionWriter
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


def _per_filter(stage: str, what: str, value: Any, count: int, kind: type) -> list[Any]:
    """`value` as one entry per filter: a single value (or a one-item list) is repeated."""
    values = list(value) if isinstance(value, list | tuple) else [value]
    if len(values) == 1:
        values = values * count
    if len(values) != count:
        raise ValueError(f"{stage}: got {count} filter(s)/function(s) but {len(values)} {what}(s): {value!r}")
    for item in values:
        if not (item is None and what == "score_field") and not isinstance(item, kind):
            raise TypeError(f"{stage}: {what} must be a {kind.__name__} or a list of them, got {item!r}")
    return values


def _score_fields(stage: str, value: Any, count: int, required: bool) -> list[str | None]:
    """Score fields, one per filter; several filters need one distinct name each."""
    if value is None:
        if required:
            raise ValueError(f"{stage}: score_field cannot be None")
        return [None] * count
    values = _as_list(value)
    if count > 1 and len(values) == 1:
        raise ValueError(f"{stage}: score_field must be a list with one name per filter when {count} are given")
    return _per_filter(stage, "score_field", values, count, str)


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


def _setup_filters(objects: list[Any]) -> None:
    """Load what filters need at run time (tokenizers, models), once per worker."""
    for obj in objects:
        for method in ("load_model", "load_tokenizer"):
            if callable(getattr(obj, method, None)):
                getattr(obj, method)()


def _needs_actor(objects: list[Any]) -> bool:
    methods = ("load_model", "load_tokenizer")
    return any(callable(getattr(o, m, None)) for o in objects for m in methods)


class _Removals:
    """Per-filter removal counts (metrics) and the removed rows (for the exclusion output)."""

    def __init__(self, keep_rows: bool) -> None:
        self.metrics: dict[str, float] = {}
        self.parts: list[tuple[pa.Table, str, np.ndarray]] = []
        self._keep_rows = keep_rows

    def record(self, name: str, table: pa.Table, scores: np.ndarray, kept: np.ndarray) -> None:
        removed = ~kept
        count = int(removed.sum())
        key = f"removed_by_{name}"
        self.metrics[key] = self.metrics.get(key, 0.0) + count
        if not count:
            return
        removed_scores = scores[removed]
        if removed_scores.dtype == object:
            reasons = Counter(s for s in removed_scores if isinstance(s, str) and s)
            for reason, n in reasons.items():
                self.metrics[f"{key}.{reason}"] = self.metrics.get(f"{key}.{reason}", 0.0) + n
        if self._keep_rows:
            self.parts.append((table.filter(pa.array(removed)), name, removed_scores))


class _FilteringStage(ProcessingStage[DocumentBatch, DocumentBatch]):
    exclusion_writer: ExclusionWriter | None

    def side_outputs(self) -> dict[str, str]:
        """The exclusion writer's folder, when removed documents are recorded."""
        return {EXCLUDED_DOCUMENTS: self.exclusion_writer.path} if self.exclusion_writer is not None else {}

    def _finish(self, task: DocumentBatch, total: int, out: pa.Table, removals: _Removals) -> DocumentBatch:
        metrics = dict(removals.metrics)
        metrics["documents_in"] = float(total)
        metrics["documents_removed"] = float(total - out.num_rows)
        if self.exclusion_writer is not None:
            written = self.exclusion_writer.write(self.name, task.task_id, removals.parts)
            metrics["documents_excluded_written"] = float(written)
        self._log_metrics(metrics)
        return with_table(task, out)


class Score(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Adds a score column per scorer (`DocumentFilter` or `text -> score` callable); removes nothing."""

    def __init__(
        self,
        score_fn: Scorer | list[Scorer],
        score_field: str | list[str],
        text_field: str | list[str] = "text",
    ) -> None:
        self.score_fns = _as_list(score_fn)
        if not self.score_fns:
            raise ValueError("Score: needs at least one filter or function")
        count = len(self.score_fns)
        self.score_fields = _score_fields("Score", score_field, count, required=True)
        self.text_fields = _per_filter("Score", "text_field", text_field, count, str)
        self.text_field = text_field
        self._name = "Score_" + "_".join(f for f in self.score_fields if f)

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], list(dict.fromkeys(self.text_fields))

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [*dict.fromkeys(self.text_fields), *self.score_fields]

    def ray_stage_spec(self) -> dict[str, Any]:
        return {"is_actor_stage": True} if _needs_actor(self.score_fns) else {}

    def setup(self, worker_metadata: Any = None) -> None:
        _setup_filters(self.score_fns)

    def process(self, task: DocumentBatch) -> DocumentBatch:
        table = require_document_batch(self.name, task).to_pyarrow()
        for scorer, text_field, field in zip(self.score_fns, self.text_fields, self.score_fields, strict=True):
            texts, _ = text_column(self, task, table, text_field)
            table = set_column(table, field, _score_column(score_texts(scorer, texts)))
        return with_table(task, table)


class Filter(_FilteringStage):
    """Keeps rows whose existing score column(s) pass the filter(s); `invert` (per filter) flips one."""

    def __init__(
        self,
        filter_fn: Decider | list[Decider],
        filter_field: str | list[str],
        invert: bool | list[bool] = False,
        exclusion_writer: ExclusionWriter | None = None,
    ) -> None:
        self.filter_fns = _as_list(filter_fn)
        if not self.filter_fns:
            raise ValueError("Filter: needs at least one filter or function")
        count = len(self.filter_fns)
        if count > 1 and len(_as_list(filter_field)) == 1:
            raise ValueError(f"Filter: filter_field must be a list with one field per filter when {count} are given")
        self.filter_fields = _per_filter("Filter", "filter_field", filter_field, count, str)
        self.inverts = _per_filter("Filter", "invert", invert, count, bool)
        self.invert = invert
        self.exclusion_writer = exclusion_writer
        self._name = "Filter_" + "_".join(self.filter_fields)

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], list(dict.fromkeys(self.filter_fields))

    def process(self, task: DocumentBatch) -> DocumentBatch:
        table = require_document_batch(self.name, task).to_pyarrow()
        total = table.num_rows
        removals = _Removals(self.exclusion_writer is not None)
        for decider, field, invert in zip(self.filter_fns, self.filter_fields, self.inverts, strict=True):
            scores = _column_values(table, field)
            mask = keep_mask(decider, scores)
            if invert:
                mask = ~mask
            removals.record(_label(decider), table, scores, mask)
            if not mask.all():
                table = table.filter(pa.array(mask))
        return self._finish(task, total, table, removals)


class ScoreFilter(_FilteringStage):
    """Scores documents with one or more `DocumentFilter`s and keeps those every filter keeps.

    Filters run in order, each on the rows the previous ones kept, each reading its own
    `text_field`. `score_field` (one name per filter, None entries allowed) stores the scores
    as columns. `invert` (per filter) keeps exactly the rows that filter would remove. With
    `exclusion_writer`, the removed rows go to a separate output with the removing filter's
    name and score.
    """

    def __init__(
        self,
        filter_obj: DocumentFilter | list[DocumentFilter],
        text_field: str | list[str] = "text",
        score_field: str | list[str | None] | None = None,
        invert: bool | list[bool] = False,
        exclusion_writer: ExclusionWriter | None = None,
    ) -> None:
        self.filter_objs = _as_list(filter_obj)
        if not self.filter_objs:
            raise ValueError("ScoreFilter: needs at least one filter or function")
        for obj in self.filter_objs:
            if not (hasattr(obj, "score_document") or hasattr(obj, "score_documents")):
                raise TypeError(f"ScoreFilter: {obj!r} is not a DocumentFilter (no score_document method)")
        count = len(self.filter_objs)
        self.score_fields = _score_fields("ScoreFilter", score_field, count, required=False)
        self.text_fields = _per_filter("ScoreFilter", "text_field", text_field, count, str)
        self.inverts = _per_filter("ScoreFilter", "invert", invert, count, bool)
        self.text_field = text_field
        self.invert = invert
        self.exclusion_writer = exclusion_writer
        self._name = "ScoreFilter_" + "_".join(_label(f) for f in self.filter_objs)

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], list(dict.fromkeys(self.text_fields))

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [*dict.fromkeys(self.text_fields), *(f for f in self.score_fields if f)]

    def ray_stage_spec(self) -> dict[str, Any]:
        return {"is_actor_stage": True} if _needs_actor(self.filter_objs) else {}

    def setup(self, worker_metadata: Any = None) -> None:
        _setup_filters(self.filter_objs)

    def process(self, task: DocumentBatch) -> DocumentBatch:
        table = require_document_batch(self.name, task).to_pyarrow()
        total = table.num_rows
        removals = _Removals(self.exclusion_writer is not None)
        for obj, text_field, field, invert in zip(
            self.filter_objs, self.text_fields, self.score_fields, self.inverts, strict=True
        ):
            scores = score_texts(obj, text_column(self, task, table, text_field)[0])
            if field:
                table = set_column(table, field, _score_column(scores))
            mask = keep_mask(obj, scores)
            if invert:
                mask = ~mask
            removals.record(_label(obj), table, scores, mask)
            if not mask.all():
                table = table.filter(pa.array(mask))
        return self._finish(task, total, table, removals)
