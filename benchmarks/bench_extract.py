"""WARC → text: documents per second through the actor-pool executor vs a plain Python loop.

For each algorithm (jusText, Resiliparse, Trafilatura) this runs `WarcReader` (FastWARC
iteration, charset decoding, CLD2 language detection, the algorithm with the page language's
stop list) on the same WARC files through `RayActorPoolExecutor` on `--cpus` CPUs, and the
same libraries called in a plain single-process loop over the same records. The ratio

    executor docs/s / (loop docs/s * cpus)      (target >= 0.8 on 2 CPUs; exit 1 below it)

compares like with like: the loop * cpus is the floor (perfect parallelism of the bare
libraries); neither side counts its process start-up and imports (the loop's process has
imported everything and made one untimed warm-up pass over a file before its clock starts;
the executor's `start s`, from `execute()` to the first extraction call, i.e. actor start-up,
is printed on its own and taken out of its docs/s). Each side runs `--repeats` times in
alternating order (loop first, then executor first, ...) and the fastest run of each counts,
which takes out most of the noise of a shared machine. Also printed: MB/s of WARC (gzip),
the end-to-end ratio with actor start-up included (`e2e ratio`), and `busy ratio`, the loop's
seconds over the extraction stage's busy seconds in its actors (the per-record cost of the
stage against the bare loop; 1.0 = no overhead), and `cpu ratio`, the loop's CPU seconds over
the CPU seconds of the whole executor run (driver, Ray's own processes and the actors, start-up
included): it does not depend on how busy the machine is, so it is the figure to trust on a
shared machine (1.0 = the executor costs no more CPU than the bare loop).
Ray's start-up is not counted. The pages are the test pages of
`raycurator.stages.text.download.testing` (real prose inside real page furniture) with a 20 kB
inline script each, about the size of a typical crawled page. The default scale (16 files of
300 pages) keeps actor start-up a small share of the executor's run.

    .venv/bin/python benchmarks/bench_extract.py [--files 16] [--pages 300] [--repeats 2]
        [--algorithms justext,resiliparse]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import justext
import lxml.sax
import pycld2
import ray
from _cpu_meter import DescendantCpu
from fastwarc.warc import ArchiveIterator, WarcRecordType
from resiliparse.extract.html2text import extract_plain_text
from trafilatura import extract as trafilatura_extract

from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
from raycurator.backends.ray_cluster import start_local_ray
from raycurator.stages.text.download import WarcReader
from raycurator.stages.text.download.html_extractors import TrafilaturaExtractor
from raycurator.stages.text.download.html_extractors.utils import get_stop_list_dict
from raycurator.stages.text.download.testing import WarcPage, html_page, prose_paragraphs, write_warc
from raycurator.stages.text.download.utils import decode_html

ALGORITHMS = ("justext", "resiliparse", "trafilatura")
_SCRIPT = "<script>" + "var tracking = {'id': 12345, 'events': ['load', 'scroll', 'click']};\n" * 300 + "</script>"


def write_corpus(folder: Path, files: int, pages: int) -> list[str]:
    prose = prose_paragraphs()
    paths = []
    for f in range(files):
        records = []
        for p in range(pages):
            n = f * pages + p
            chosen = [prose[(n * 3 + j) % len(prose)] for j in range(3 + n % 5)]
            body = html_page(f"Article {n}", chosen).replace("</head>", _SCRIPT + "</head>")
            records.append(WarcPage(f"https://example.org/{n}", body.encode("utf-8")))
        path = folder / f"bench-{f:05d}.warc.gz"
        write_warc(str(path), records)
        paths.append(str(path))
    return paths


def _dense(paragraphs: list[str], stop_words: frozenset[str], density: float = 0.32) -> list[str]:
    kept = []
    for paragraph in paragraphs:
        words = paragraph.split()
        if words and sum(w in stop_words for w in words) / len(words) >= density:
            kept.append(paragraph)
    return kept


def _justext(html: str, stop_words: frozenset[str]) -> list[str]:
    dom = justext.core.preprocessor(justext.core.html_to_dom(html))
    maker = justext.core.ParagraphMaker()
    lxml.sax.saxify(dom, maker)
    paragraphs = maker.paragraphs
    justext.core.classify_paragraphs(paragraphs, stop_words, 70, 200, 0.30, 0.32, 0.2, False)
    for paragraph in paragraphs:
        paragraph.class_type = paragraph.cf_class
    justext.core.revise_paragraph_classification(paragraphs, 200)
    return [p.text for p in paragraphs if not p.is_boilerplate]


def _resiliparse(html: str, stop_words: frozenset[str]) -> list[str]:
    text = extract_plain_text(html, main_content=True, alt_texts=False)
    return _dense([line for line in text.split("\n") if line], stop_words)


_TRAFILATURA_CONFIG = TrafilaturaExtractor()._trafilatura_config()


def _trafilatura(html: str, stop_words: frozenset[str]) -> list[str]:
    text = trafilatura_extract(html, config=_TRAFILATURA_CONFIG, deduplicate=True)
    return _dense([line for line in (text or "").split("\n") if line], stop_words)


PLAIN = {"justext": _justext, "resiliparse": _resiliparse, "trafilatura": _trafilatura}


def plain_loop(paths: list[str], algorithm: str) -> tuple[int, float, float]:
    """(documents, seconds, CPU seconds): FastWARC + decode + CLD2 + the library, one process, no framework."""
    stop_lists = get_stop_list_dict()
    run = PLAIN[algorithm]
    docs = 0
    started, cpu = time.perf_counter(), time.process_time()
    for path in paths:
        with open(path, "rb") as handle:
            for record in ArchiveIterator(handle, record_types=WarcRecordType.response, parse_http=True):
                if not (record.http_content_type or "").startswith("text/html"):
                    continue
                html = decode_html(record.reader.read())
                if html is None:
                    continue
                language = pycld2.detect(html)[2][0][0].upper()
                if language in stop_lists and run(html, stop_lists[language]):
                    docs += 1
    return docs, time.perf_counter() - started, time.process_time() - cpu


def executor_run(paths: list[str], algorithm: str) -> tuple[int, float, float, float, float]:
    """(documents, wall seconds, seconds until the first extraction started, extraction busy seconds,
    CPU seconds of the driver and every Ray process) through `RayActorPoolExecutor` (one partition per file)."""
    reader = WarcReader(file_paths=paths, files_per_partition=1, html_extraction=algorithm)
    executor = RayActorPoolExecutor(config={"log_dir": tempfile.mkdtemp(prefix="bench_extract_")}, show_progress=False)
    started_at, started, cpu = time.time(), time.perf_counter(), time.process_time()
    with DescendantCpu() as ray_cpu:
        results = executor.execute(reader.decompose())
    elapsed = time.perf_counter() - started
    cpu_s = time.process_time() - cpu + ray_cpu.seconds
    stage = next(s for s in executor.last_report.stages if s.stage_name.startswith("iterate_extract"))
    startup = (stage.first_start - started_at) if stage.first_start else float("nan")
    return sum(task.num_items for task in results), elapsed, startup, stage.busy_s, cpu_s


def warm_up_loop(paths: list[str]) -> None:
    """One untimed pass of every algorithm over the first file (imports, caches, first calls)."""
    for algorithm in PLAIN:
        plain_loop(paths[:1], algorithm)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=16)
    parser.add_argument("--pages", type=int, default=300, help="pages per WARC file")
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2, help="runs of each side, alternating; the fastest counts")
    parser.add_argument("--target", type=float, default=0.8)
    parser.add_argument("--algorithms", default=",".join(ALGORITHMS))
    args = parser.parse_args(argv)
    missed = []
    with tempfile.TemporaryDirectory(prefix="bench_extract_") as workdir:
        paths = write_corpus(Path(workdir), args.files, args.pages)
        megabytes = sum(os.path.getsize(p) for p in paths) / 1e6
        records = args.files * args.pages
        print(f"{len(paths)} WARC files, {records} HTML records, {megabytes:.1f} MB (gzip); {args.cpus} CPUs; "
              f"best of {args.repeats} alternating runs per side")  # fmt: skip
        warm_up_loop(paths)
        start_local_ray(num_cpus=args.cpus)
        try:
            header = ("algorithm", "loop rec/s", "loop MB/s", "pool rec/s", "pool MB/s", "ratio", "start s")
            header += ("e2e ratio", "busy ratio", "cpu ratio")
            print(
                f"{header[0]:<12} {header[1]:>10} {header[2]:>9} {header[3]:>10} {header[4]:>9} {header[5]:>6} "
                f"{header[6]:>7} {header[7]:>9} {header[8]:>10} {header[9]:>9}"
            )
            for algorithm in args.algorithms.split(","):
                loops: list[tuple[int, float, float]] = []
                pools: list[tuple[int, float, float, float, float]] = []
                for repeat in range(args.repeats):
                    if repeat % 2 == 0:
                        loops.append(plain_loop(paths, algorithm))
                        pools.append(executor_run(paths, algorithm))
                    else:
                        pools.append(executor_run(paths, algorithm))
                        loops.append(plain_loop(paths, algorithm))
                loop_docs, loop_s, _ = min(loops, key=lambda r: r[1])
                pool_docs, pool_s, startup, busy_s, _ = min(pools, key=lambda r: r[1] - r[2])
                cpu_ratio = min(r[2] for r in loops) / min(r[4] for r in pools)
                if pool_docs != loop_docs:
                    print(f"  note: {algorithm}: executor kept {pool_docs} documents, the loop {loop_docs}")
                steady_s = pool_s - startup
                floor = records / loop_s * args.cpus
                ratio = (records / steady_s) / floor
                print(
                    f"{algorithm:<12} {records / loop_s:>10.1f} {megabytes / loop_s:>9.2f} "
                    f"{records / steady_s:>10.1f} {megabytes / steady_s:>9.2f} {ratio:>6.2f} {startup:>7.1f} "
                    f"{(records / pool_s) / floor:>9.2f} {loop_s / busy_s:>10.2f} {cpu_ratio:>9.2f}"
                )
                if not ratio >= args.target:
                    missed.append(f"{algorithm} {ratio:.2f}")
        finally:
            ray.shutdown()
    if missed:
        print(f"MISSED target {args.target}: {', '.join(missed)}")
        return 1
    print(f"target {args.target} met for every algorithm")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
