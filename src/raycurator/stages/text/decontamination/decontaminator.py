"""`NGramDecontaminator`: removes benchmark (evaluation-set) text from a training corpus."""

from __future__ import annotations

import logging
import os
import tempfile
from collections import Counter
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Any

import numpy as np
import pyarrow as pa

from raycurator.stages.base import ProcessingStage
from raycurator.stages.text._batch import require_document_batch, set_column, with_table
from raycurator.stages.text.decontamination.index import IndexSpec, NGramIndex, ensure_index, load_index
from raycurator.stages.text.decontamination.ngrams import ngram_hashes, word_hashes, words_with_spans
from raycurator.tasks import DocumentBatch

logger = logging.getLogger(__name__)

#: Where indexes go when no `index_dir` is given (node-local).
DEFAULT_INDEX_DIR = os.path.join(tempfile.gettempdir(), "raycurator-decontamination")


class DecontaminationAction(StrEnum):
    """What happens to a document that shares an n-gram with an evaluation set."""

    REMOVE = "remove"  # drop the document
    CUT = "cut"  # cut the matching spans (plus a margin) out of it


def _task_files(eval_files: dict[str, str | list[str]] | list[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if isinstance(eval_files, dict):
        items = [(str(name), [paths] if isinstance(paths, str) else list(paths)) for name, paths in eval_files.items()]
    elif isinstance(eval_files, list | tuple):
        items = [(PurePosixPath(str(path)).name.split(".")[0], [str(path)]) for path in eval_files]
    else:
        raise TypeError("NGramDecontaminator: eval_files must map task names to JSONL files, or list JSONL files")
    names = [name for name, _ in items]
    if not items or any(not paths for _, paths in items):
        raise ValueError("NGramDecontaminator: eval_files names no evaluation file")
    if len(set(names)) != len(names):
        raise ValueError(f"NGramDecontaminator: task names repeat in eval_files: {names}")
    return tuple(sorted((name, tuple(paths)) for name, paths in items))


class NGramDecontaminator(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Finds documents sharing a normalised word n-gram with an evaluation set, and removes or cuts them.

    `eval_files`: `{task name: JSONL file(s)}` or a list of JSONL files (the task is the file name);
    `eval_text_fields` of each record are indexed (a list value indexes each item). n-grams are
    `ngram_size` words (default 13) after lower-casing and dropping punctuation; evaluation texts
    shorter than that are indexed whole when they have at least `min_ngram_size` words.
    `action="remove"` drops a hit document; `action="cut"` removes each matching span plus
    `cut_margin_chars` on each side, drops leftover pieces shorter than `min_fragment_chars`, and
    drops the document when it has more than `max_splits` cuts or nothing is left. With
    `tasks_field`, kept documents get a list of the tasks they matched. The index is built once per
    node (`setup_on_node`) under `index_dir` and memory-mapped by every worker (see `index`).
    Custom metrics: `documents_hit`, `documents_removed`, `documents_cut`, `hits.<task>` (documents
    matching each task), `ngrams_matched`.
    """

    def __init__(
        self,
        eval_files: dict[str, str | list[str]] | list[str],
        text_field: str = "text",
        eval_text_fields: list[str] | None = None,
        ngram_size: int = 13,
        min_ngram_size: int = 8,
        action: str = "remove",
        cut_margin_chars: int = 200,
        min_fragment_chars: int = 200,
        max_splits: int = 10,
        tasks_field: str | None = None,
        index_dir: str | None = None,
    ) -> None:
        self.tasks = _task_files(eval_files)
        if not isinstance(ngram_size, int) or ngram_size < 1:
            raise ValueError(f"NGramDecontaminator: ngram_size must be a positive int, got {ngram_size!r}")
        if not isinstance(min_ngram_size, int) or not 1 <= min_ngram_size <= ngram_size:
            raise ValueError(f"NGramDecontaminator: min_ngram_size must be in 1..ngram_size, got {min_ngram_size!r}")
        try:
            self.action = DecontaminationAction(action)
        except ValueError:
            raise ValueError(
                f"NGramDecontaminator: action must be one of {[a.value for a in DecontaminationAction]}, got {action!r}"
            ) from None
        for label, value in (("cut_margin_chars", cut_margin_chars), ("min_fragment_chars", min_fragment_chars),
                             ("max_splits", max_splits)):  # fmt: skip
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"NGramDecontaminator: {label} must be a non-negative int, got {value!r}")
        self.text_field = text_field
        self.eval_text_fields = list(eval_text_fields or ["text"])
        self.ngram_size = ngram_size
        self.min_ngram_size = min_ngram_size
        self.cut_margin_chars = cut_margin_chars
        self.min_fragment_chars = min_fragment_chars
        self.max_splits = max_splits
        self.tasks_field = tasks_field
        self.index_dir = index_dir or DEFAULT_INDEX_DIR
        self._index: NGramIndex | None = None
        self._name = "ngram_decontaminator"

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [self.text_field]

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [self.text_field, *([self.tasks_field] if self.tasks_field else [])]

    @property
    def spec(self) -> IndexSpec:
        """What the index is built from."""
        return IndexSpec(self.tasks, tuple(self.eval_text_fields), self.ngram_size, self.min_ngram_size)

    def setup_on_node(self, node_info: Any = None, worker_metadata: Any = None) -> None:
        ensure_index(self.spec, self.index_dir, f"stage '{self.name}'")

    def setup(self, worker_metadata: Any = None) -> None:
        self._index = load_index(ensure_index(self.spec, self.index_dir, f"stage '{self.name}'"))

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_index": None}  # each worker maps the node's index itself

    @property
    def index(self) -> NGramIndex:
        """The loaded index (loaded on first use when `setup` did not run)."""
        if self._index is None:
            self.setup()
        assert self._index is not None
        return self._index

    def matches(self, text: str) -> tuple[list[tuple[int, int]], set[str], int]:
        """Character ranges of `text` covered by indexed n-grams (merged), the tasks hit, n-grams matched."""
        index = self.index
        words, spans = words_with_spans(text)
        if not words:
            return [], set(), 0
        hashes = word_hashes(words)
        ranges: list[tuple[int, int]] = []
        matched: list[np.ndarray] = []
        for size in index.sizes:
            grams = ngram_hashes(hashes, size)
            hits = np.flatnonzero(index.lookup(grams))
            if len(hits):
                matched.append(grams[hits])
                ranges.extend((spans[i][0], spans[i + size - 1][1]) for i in hits.tolist())
        if not ranges:
            return [], set(), 0
        merged: list[tuple[int, int]] = []
        for start, end in sorted(ranges):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        found = np.concatenate(matched)
        return merged, index.tasks_of(found), len(found)

    def cut(self, text: str, ranges: list[tuple[int, int]]) -> str | None:
        """`text` without `ranges` (widened by the margin); None when too split or nothing is left."""
        if len(ranges) > self.max_splits:
            return None
        widened: list[tuple[int, int]] = []
        for start, end in ranges:
            start, end = max(0, start - self.cut_margin_chars), min(len(text), end + self.cut_margin_chars)
            if widened and start <= widened[-1][1]:
                widened[-1] = (widened[-1][0], max(widened[-1][1], end))
            else:
                widened.append((start, end))
        pieces, position = [], 0
        for start, end in widened:
            pieces.append(text[position:start])
            position = end
        pieces.append(text[position:])
        kept = [p.strip() for p in pieces if len(p.strip()) >= max(self.min_fragment_chars, 1)]
        return "\n".join(kept) if kept else None

    def process(self, task: DocumentBatch) -> DocumentBatch | None:
        table = require_document_batch(self.name, task).to_pyarrow()
        keep: list[bool] = []
        texts: list[str | None] = []
        hit_tasks: list[list[str]] = []
        per_task: Counter[str] = Counter()
        hit = removed = cut = ngrams = 0
        for text in table[self.text_field].to_pylist():
            ranges, names, count = self.matches(text) if isinstance(text, str) else ([], set(), 0)
            new_text = text
            if ranges:
                hit += 1
                ngrams += count
                per_task.update(names)
                new_text = None if self.action is DecontaminationAction.REMOVE else self.cut(text, ranges)
                removed += new_text is None
                cut += new_text is not None
            keep.append(new_text is not None or not ranges)
            texts.append(new_text)
            hit_tasks.append(sorted(names))
        metrics = {"documents_hit": hit, "documents_removed": removed, "documents_cut": cut, "ngrams_matched": ngrams}
        metrics.update({f"hits.{name}": float(per_task.get(name, 0)) for name, _ in self.tasks})
        self._log_metrics(metrics)
        if hit:
            logger.debug("stage '%s': task '%s': %d documents matched %s", self.name, task.task_id, hit, dict(per_task))
        table = set_column(table, self.text_field, pa.array(texts, type=table.schema.field(self.text_field).type))
        if self.tasks_field:
            table = set_column(table, self.tasks_field, pa.array(hit_tasks, type=pa.list_(pa.string())))
        table = table.filter(pa.array(keep, type=pa.bool_()))
        if table.num_rows == 0:
            return None
        return with_table(task, table)
