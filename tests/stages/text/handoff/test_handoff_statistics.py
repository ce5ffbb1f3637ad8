"""CorpusStatistics: run-wide histograms and category counts as custom metrics, printed by `raycurator report`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from handoff_data import license_texts
from rich.console import Console
from tokenizers import Tokenizer

from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
from raycurator.cli.report import print_report
from raycurator.cli.report_statistics import statistics_lines
from raycurator.pipeline import Pipeline
from raycurator.stages.text.io.reader import JsonlReader
from raycurator.stages.text.statistics import (
    CorpusStatistics,
    HistogramSpec,
    categories_from_metrics,
    histograms_from_metrics,
)
from raycurator.stages.text.statistics.corpus_statistics import source_domain
from raycurator.tasks import DocumentBatch
from raycurator.tasks.utils import TaskPerfUtils


def test_histogram_buckets_round_trip_through_metric_names():
    spec = HistogramSpec("chars", [0, 10, 100])
    counts = spec.counts(np.array([-1, 0, 9.99, 10, 99, 100, 1e9, np.nan]))
    assert counts == {"chars.hist.[-inf,0)": 1, "chars.hist.[0,10)": 2, "chars.hist.[10,100)": 2,
                      "chars.hist.[100,inf)": 2}  # fmt: skip
    buckets = histograms_from_metrics({**counts, "chars.sum": 5.0, "lang.count.en": 3})["chars"]
    assert [(b.lo, b.hi, b.count) for b in buckets] == [(-np.inf, 0, 1), (0, 10, 2), (10, 100, 2), (100, np.inf, 2)]
    assert categories_from_metrics({"lang.count.en": 3, "lang.count.de": 5, "x.hist.[0,1)": 1}) == {
        "lang": [("de", 5.0), ("en", 3.0)]
    }
    with pytest.raises(ValueError, match="increasing"):
        HistogramSpec("x", [1, 1])
    assert source_domain("https://www.Example.com:8080/a?b") == "example.com" and source_domain(None) is None


def test_statistics_of_a_batch_are_exact(small_tokenizer):
    texts = [t for t in license_texts()[:12]]
    table = pa.table({
        "text": texts,
        "lang": ["en"] * 10 + [None, "de"],
        "url": ["https://www.python.org/x", "http://numpy.org", None] * 4,
        "score": [i / 12 for i in range(12)],
    })  # fmt: skip
    stage = CorpusStatistics(tokenizer=str(small_tokenizer), language_field="lang", domain_field="url",
                             score_fields=["score"], max_categories=2)  # fmt: skip
    stage.setup()
    out = stage.process(DocumentBatch(task_id="t", dataset_name="d", data=table))
    assert out.to_pyarrow().equals(table)  # passes documents through unchanged
    metrics = stage._consume_custom_metrics()
    assert metrics["documents"] == 12 and metrics["chars.sum"] == sum(map(len, texts))
    assert metrics["words.sum"] == sum(len(t.split()) for t in texts)
    tokenizer = Tokenizer.from_file(str(small_tokenizer / "tokenizer.json"))
    assert metrics["tokens.sum"] == sum(len(e.ids) for e in tokenizer.encode_batch(texts, add_special_tokens=False))
    for measure in ("chars", "words", "tokens", "score"):
        assert sum(b.count for b in histograms_from_metrics(metrics)[measure]) == 12
    categories = categories_from_metrics(metrics)
    assert categories["lang"] == [("en", 10.0), ("(none)", 1.0), ("(other)", 1.0)]  # at most 2 distinct per worker
    assert dict(categories["domain"])["python.org"] == 4 and dict(categories["domain"])["(other)"] == 4
    assert metrics["score.hist.[0.5,0.6)"] == 2  # 6/12 and 7/12
    assert metrics["score.sum"] == pytest.approx(sum(i / 12 for i in range(12)))


def test_statistics_add_up_over_a_ray_run_and_report_prints_them(tmp_path, shared_ray):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    texts = [p for t in license_texts()[:30] for p in t.split("\n\n") if p.strip()][:90]
    for part in range(3):
        rows = [{"text": t, "lang": "en" if i % 3 else "fr"} for i, t in enumerate(texts[part::3])]
        (corpus / f"p{part}.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    stages = [JsonlReader(str(corpus)), CorpusStatistics(language_field="lang")]
    executor = RayActorPoolExecutor(config={"log_dir": str(tmp_path / "runs")})
    results = Pipeline("stats", stages=stages).run(executor)
    collected = TaskPerfUtils.collect_stage_metrics(results)["corpus_statistics"]
    totals = {k.removeprefix("custom."): float(v.sum()) for k, v in collected.items() if k.startswith("custom.")}
    assert totals["documents"] == 90 and totals["chars.sum"] == sum(map(len, texts))
    words = histograms_from_metrics(totals)["words"]
    expected = np.histogram([len(t.split()) for t in texts], bins=[-np.inf, *[b.hi for b in words]])[0]
    assert [b.count for b in words] == expected.tolist()
    assert sum(count for _, count in categories_from_metrics(totals)["lang"]) == 90

    run_dir = Path(executor.last_report.log_dir)
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    (stage,) = [s for s in report["stages"] if s["stage_name"] == "corpus_statistics"]
    assert stage["custom_metrics"] == pytest.approx(totals)  # the run report holds the run-wide figures
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "<h2>Corpus statistics</h2>" in page and 'aria-label="histogram of words"' in page
    filled = [b for b in words if b.count]
    assert f"[{filled[0].lo:,g}, {filled[0].hi:,g})" in page and f"{filled[0].count:,.0f} (" in page
    assert "lang: en 60 (66.7%), fr 30 (33.3%)" in page
    lines = statistics_lines(report)
    assert lines[0] == "statistics of stage corpus_statistics:"
    assert any(line.startswith("words (90 values)") for line in lines)
    console = Console(record=True, width=160)
    print_report(report, console)
    printed = console.export_text()
    assert "chars (90 values)" in printed and "lang: en 60 (66.7%), fr 30 (33.3%)" in printed and "█" in printed
