"""`CorpusStatistics`: run-wide statistics of a corpus, gathered as the documents stream past."""

from __future__ import annotations

from collections import Counter
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from raycurator.stages.base import ProcessingStage
from raycurator.stages.text._arrow_text import python_texts
from raycurator.stages.text._batch import require_document_batch
from raycurator.stages.text._local_tokenizer import LocalTokenizer, load_local_tokenizer
from raycurator.stages.text.statistics.histogram import LENGTH_EDGES, SCORE_EDGES, HistogramSpec
from raycurator.tasks import DocumentBatch

#: Value counted for documents whose category field is empty.
MISSING = "(none)"
#: Value counted once a worker has seen `max_categories` distinct values of a field.
OTHER = "(other)"


def source_domain(url: Any) -> str | None:
    """The host of a URL, lower-cased, without `www.` (None when there is none)."""
    if not isinstance(url, str) or not url:
        return None
    host = (urlsplit(url if "//" in url else f"//{url}").hostname or "").lower()
    return host.removeprefix("www.") or None


class CorpusStatistics(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Passes documents through unchanged and records statistics as custom metrics of the run.

    Always: `documents`, `chars.sum`, `words.sum` and length histograms `chars.hist.[lo,hi)`,
    `words.hist.[lo,hi)` (edges `LENGTH_EDGES`). With `tokenizer` (a local tokenizer.json or folder):
    `tokens.sum` and `tokens.hist.*`. With `language_field` / `domain_field` (a domain, or a URL
    whose host is taken): `<field>.count.<value>` per value (at most `max_categories` distinct
    values per worker, the rest counted as `(other)`). With `score_fields`: `<field>.hist.*` per
    numeric field (edges from `score_edges[field]`, default 0.0, 0.1, ..., 1.0) and `<field>.sum`.
    Metrics add up over batches and workers, so `report.json` holds the run's totals and
    histograms; `raycurator report` prints them as bars.
    """

    def __init__(
        self,
        text_field: str = "text",
        tokenizer: str | None = None,
        language_field: str | None = None,
        domain_field: str | None = None,
        score_fields: list[str] | None = None,
        score_edges: dict[str, list[float]] | None = None,
        length_edges: list[float] | None = None,
        max_categories: int = 100,
    ) -> None:
        if not isinstance(max_categories, int) or max_categories < 1:
            raise ValueError(f"CorpusStatistics: max_categories must be a positive int, got {max_categories!r}")
        self.text_field = text_field
        self.tokenizer = tokenizer
        self.language_field = language_field
        self.domain_field = domain_field
        self.score_fields = list(score_fields or [])
        self.score_edges = {k: list(v) for k, v in (score_edges or {}).items()}
        unknown = sorted(set(self.score_edges) - set(self.score_fields))
        if unknown:
            raise ValueError(f"CorpusStatistics: score_edges for fields not in score_fields: {unknown}")
        self.length_edges = list(length_edges or LENGTH_EDGES)
        self.max_categories = max_categories
        self._histograms = {
            measure: HistogramSpec(measure, self.length_edges) for measure in ("chars", "words", "tokens")
        }
        for field in self.score_fields:
            self._histograms[field] = HistogramSpec(field, self.score_edges.get(field, SCORE_EDGES))
        self._tokenizer: LocalTokenizer | None = None
        self._seen: dict[str, set[str]] = {}
        self._name = "corpus_statistics"

    def inputs(self) -> tuple[list[str], list[str]]:
        fields = [self.text_field, *(f for f in (self.language_field, self.domain_field) if f), *self.score_fields]
        return ["data"], list(dict.fromkeys(fields))

    def outputs(self) -> tuple[list[str], list[str]]:
        return self.inputs()

    def setup(self, worker_metadata: Any = None) -> None:
        if self.tokenizer:
            self._tokenizer = load_local_tokenizer(self.tokenizer)

    def _categories(self, field: str, values: list[Any]) -> dict[str, float]:
        seen = self._seen.setdefault(field, set())
        counts: Counter[str] = Counter()
        for value in values:
            label = MISSING if value is None or value == "" else str(value)
            if label not in seen and len(seen) >= self.max_categories:
                label = OTHER
            else:
                seen.add(label)
            counts[label] += 1
        return {f"{field}.count.{label}": float(n) for label, n in counts.items()}

    def process(self, task: DocumentBatch) -> DocumentBatch:
        table = require_document_batch(self.name, task).to_pyarrow()
        texts = python_texts(table[self.text_field])
        metrics: dict[str, float] = {"documents": float(len(texts))}
        lengths = {
            "chars": np.fromiter((len(t) for t in texts), dtype=np.float64, count=len(texts)),
            "words": np.fromiter((len(t.split()) for t in texts), dtype=np.float64, count=len(texts)),
        }
        if self.tokenizer:
            if self._tokenizer is None:
                self.setup()
            assert self._tokenizer is not None
            lengths["tokens"] = np.asarray([len(ids) for ids in self._tokenizer.encode_batch(texts)], dtype=np.float64)
        for measure, values in lengths.items():
            metrics[f"{measure}.sum"] = float(values.sum())
            metrics.update(self._histograms[measure].counts(values))
        if self.language_field:
            metrics.update(self._categories(self.language_field, table[self.language_field].to_pylist()))
        if self.domain_field:
            domains = [source_domain(v) for v in table[self.domain_field].to_pylist()]
            metrics.update(self._categories("domain", domains))
        for field in self.score_fields:
            raw = table[field].to_pylist()
            values = np.asarray([float(v) if isinstance(v, int | float) else np.nan for v in raw], dtype=np.float64)
            metrics[f"{field}.sum"] = float(np.nansum(values))
            metrics.update(self._histograms[field].counts(values))
        self._log_metrics(metrics)
        return task
