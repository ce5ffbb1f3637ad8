"""Per-core throughput of the three heavy steps of a web-crawl curation, for sizing a cluster (docs/scale.md).

One process, `LocalExecutor` (so one core), small inputs:

* extraction: `WarcReader` (FastWARC, charset detection, CLD2, Resiliparse by default) over
  generated WARC files of real prose pages (`raycurator.stages.text.download.testing`), each
  page padded with a 20 kB inline script like a typical crawled page;
* heuristic filters: the four heuristic groups of `examples/full_curation.yaml` (length,
  markers, characters, repetition: 14 filters) on the extracted documents;
* fuzzy dedup: MinHash, LSH and connected components (`FuzzyDeduplicationWorkflow`'s signature
  stages, no Jaccard verification) on the same documents.

Prints documents per wall second and per CPU second of the process (the per-core figure; on a
shared machine the wall figure mostly measures the other processes), and MB per CPU second (of
WARC, compressed, for extraction; of extracted text otherwise).

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


def timed(stages, tasks=None) -> tuple[list, float, float]:
    """(output, wall seconds, CPU seconds of this process): CPU time is the steadier figure on a shared machine."""
    start, cpu = time.perf_counter(), time.process_time()
    out = LocalExecutor().execute(stages, tasks)
    return out, time.perf_counter() - start, time.process_time() - cpu


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
        out, seconds, cpu = timed(WarcReader(paths, files_per_partition=1, html_extraction=args.algorithm).decompose())
        docs = sum(t.num_items for t in out)
        figures["extraction"] = (docs, seconds, cpu, warc_bytes)
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
    _, seconds, cpu = timed(filters, batches)
    figures["heuristic filters (14)"] = (len(texts), seconds, cpu, text_bytes)
    workflow = FuzzyDeduplicationWorkflow("unused", "unused", id_field="id", verify=False)
    _, seconds, cpu = timed(workflow.signature_stages(), batches)
    figures["fuzzy dedup (MinHash+LSH+CC)"] = (len(texts), seconds, cpu, text_bytes)
    print(f"documents: {len(texts) // args.repeat} extracted, {text_bytes / len(texts):.0f} bytes of text each")
    print(f"{'step':30} {'docs':>6} {'wall s':>7} {'cpu s':>7} {'docs/wall-s':>11} {'docs/cpu-s':>10} {'MB/cpu-s':>9}")
    for name, (count, secs, cpu, size) in figures.items():
        print(f"{name:30} {count:6d} {secs:7.2f} {cpu:7.2f} {count / secs:11.0f} {count / cpu:10.0f} "
              f"{size / cpu / 1e6:9.2f}")  # fmt: skip
    print(json.dumps({k: {"docs_per_cpu_s": v[0] / v[2], "docs_per_wall_s": v[0] / v[1]} for k, v in figures.items()}))


if __name__ == "__main__":
    main()
