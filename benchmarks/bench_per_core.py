"""Per-core throughput of the three heavy steps of a web-crawl curation, for sizing a cluster (docs/scale.md).

One process, `LocalExecutor` (so one core), small inputs:

* extraction: `WarcReader` (FastWARC, charset detection, CLD2, Resiliparse by default) over
  generated WARC files of real prose pages (`raycurator.stages.text.download.testing`), each
  page padded with a 20 kB inline script like a typical crawled page;
* heuristic filters: the four heuristic groups of `examples/full_curation.yaml` (length,
  markers, characters, repetition: 14 filters) on the extracted documents;
* fuzzy dedup: MinHash, LSH and connected components (`FuzzyDeduplicationWorkflow`'s signature
  stages, no Jaccard verification) on the same documents.

Prints documents/s and MB/s (of WARC, compressed, for extraction; of text otherwise) per core.
Timings on a shared machine are noisy: run it several times and keep the best.

    .venv/bin/python benchmarks/bench_per_core.py [--files 2] [--pages 300] [--algorithm resiliparse]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import pyarrow as pa

from raycurator.backends.local import LocalExecutor
from raycurator.stages.deduplication.fuzzy.workflow import FuzzyDeduplicationWorkflow
from raycurator.stages.text.download import WarcReader
from raycurator.stages.text.download.testing import WarcPage, article_pages, html_page, write_warc
from raycurator.stages.text.filters import ScoreFilter
from raycurator.stages.text.filters.heuristic import (
    BoilerPlateStringFilter,
    CurlyBracketFilter,
    JavascriptFilter,
    LoremIpsumFilter,
    MeanWordLengthFilter,
    NonAlphaNumericFilter,
    NumbersFilter,
    PunctuationFilter,
    RepeatedLinesFilter,
    RepeatingTopNGramsFilter,
    SymbolsToWordsFilter,
    UrlsFilter,
    WhiteSpaceFilter,
    WordCountFilter,
)
from raycurator.tasks import DocumentBatch

SCRIPT = "<script>" + "var x = 1; " * 1800 + "</script>"  # ~20 kB of page furniture


def write_inputs(folder: str, files: int, pages: int) -> tuple[list[str], int]:
    paths, size = [], 0
    for n in range(files):
        padded = []
        for page in article_pages(pages, paragraphs_per_page=4, offset=n * pages):
            body = html_page(page.url, page.paragraphs).replace("</head>", SCRIPT + "</head>")
            padded.append(WarcPage(url=page.url, body=body.encode("utf-8"), paragraphs=page.paragraphs))
        path = os.path.join(folder, f"crawl-{n:03d}.warc.gz")
        write_warc(path, padded)
        paths.append(path)
        size += os.path.getsize(path)
    return paths, size


def timed(stages, tasks=None) -> tuple[list, float]:
    start = time.perf_counter()
    out = LocalExecutor().execute(stages, tasks)
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=2)
    parser.add_argument("--pages", type=int, default=300, help="pages per WARC file")
    parser.add_argument("--algorithm", default="resiliparse", choices=["resiliparse", "justext", "trafilatura"])
    parser.add_argument("--repeat", type=int, default=8, help="copies of the extracted documents for filters/dedup")
    args = parser.parse_args()
    figures = {}
    with tempfile.TemporaryDirectory() as folder:
        paths, warc_bytes = write_inputs(folder, args.files, args.pages)
        out, seconds = timed(WarcReader(paths, files_per_partition=1, html_extraction=args.algorithm).decompose())
        docs = sum(t.num_items for t in out)
        figures["extraction"] = (docs, seconds, warc_bytes)
    texts = [text for t in out for text in t.to_pyarrow().column("text").to_pylist()] * args.repeat
    ids = [f"d{i}" for i in range(len(texts))]
    text_bytes = sum(len(t.encode("utf-8")) for t in texts)
    batches = [
        DocumentBatch(task_id=f"b{i}", dataset_name="bench", data=pa.table({"id": ids[i : i + 500],
                                                                             "text": texts[i : i + 500]}))
        for i in range(0, len(texts), 500)
    ]  # fmt: skip
    filters = [
        ScoreFilter([WordCountFilter(min_words=50, max_words=100000), MeanWordLengthFilter()]),
        ScoreFilter([LoremIpsumFilter(), JavascriptFilter(), BoilerPlateStringFilter(), CurlyBracketFilter()]),
        ScoreFilter([UrlsFilter(), SymbolsToWordsFilter(), NonAlphaNumericFilter(), NumbersFilter()]),
        ScoreFilter([RepeatedLinesFilter(), RepeatingTopNGramsFilter(), PunctuationFilter(), WhiteSpaceFilter()]),
    ]
    _, seconds = timed(filters, batches)
    figures["heuristic filters (14)"] = (len(texts), seconds, text_bytes)
    workflow = FuzzyDeduplicationWorkflow("unused", "unused", id_field="id", verify=False)
    _, seconds = timed(workflow.signature_stages(), batches)
    figures["fuzzy dedup (MinHash+LSH+CC)"] = (len(texts), seconds, text_bytes)
    print(f"{'step':32} {'docs':>8} {'seconds':>8} {'docs/s/core':>12} {'MB/s/core':>10}")
    for name, (count, secs, size) in figures.items():
        print(f"{name:32} {count:8d} {secs:8.2f} {count / secs:12.0f} {size / secs / 1e6:10.2f}")
    print(json.dumps({k: {"docs_per_s": v[0] / v[1], "mb_per_s": v[2] / v[1] / 1e6} for k, v in figures.items()}))


if __name__ == "__main__":
    main()
