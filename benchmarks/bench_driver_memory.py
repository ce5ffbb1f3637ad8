"""Driver memory: the same read -> filter -> write pipeline on 1x and 4x the data.

Each scale runs in its own subprocess (fresh driver, embedded local Ray, 2 CPUs) and reports
the driver's peak RSS. Stage fusion is off, so the reader, the filters and the writer run in
their own actors and every document crosses the object store between them: a driver that
fetched the objects it routes would grow with the data. The 4x corpus is the 1x corpus four
times over (ids made unique), so the 4x run must write exactly 4x the rows; the rows are
counted in the written files. Target: the 4x run's peak within 50 MB of the 1x run's, i.e.
the driver holds references and metadata, never the documents. Exits 1 on a missed target or
a wrong row count.

    .venv/bin/python benchmarks/bench_driver_memory.py [--mb 40] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORDS = (
    "curation pipeline document language quality dataset training tokenizer filtering deduplication "
    "streaming cluster actor partition parquet heuristic threshold vocabulary paragraph sentence"
).split()


def generate(directory: Path, megabytes: float, copies: int, docs_per_file: int = 2500) -> int:
    """Write JSONL files of random documents totalling about `megabytes`, `copies` times over
    (each copy's ids unique); returns the document count."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    written, index, file_index = 0, 0, 0
    while written < megabytes * 1024 * 1024:
        texts = []
        for _ in range(docs_per_file):
            texts.append(" ".join(rng.choices(WORDS, k=rng.randint(20, 300))))
        for copy in range(copies):
            lines = [json.dumps({"id": f"doc-{index + i}-{copy}", "text": text}) for i, text in enumerate(texts)]
            data = "\n".join(lines) + "\n"
            (directory / f"part-{file_index:05d}-{copy}.jsonl").write_text(data)
        written += len(data)
        index += len(texts)
        file_index += 1
    return index * copies


def count_rows(directory: Path) -> int:
    """Lines in every JSONL file under `directory`."""
    rows = 0
    for path in directory.rglob("*.jsonl"):
        with open(path, "rb") as handle:
            rows += sum(1 for _ in handle)
    return rows


def run_pipeline(input_dir: str, output_dir: str) -> None:
    """Child process: run the pipeline and print the driver's peak RSS as JSON."""
    from raycurator import Pipeline
    from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
    from raycurator.stages.text.filters import ScoreFilter
    from raycurator.stages.text.filters.heuristic import NonAlphaNumericFilter, WordCountFilter
    from raycurator.stages.text.io.reader import JsonlReader
    from raycurator.stages.text.io.writer import JsonlWriter

    pipeline = Pipeline(
        "driver-memory",
        stages=[
            JsonlReader(input_dir, files_per_partition=1),
            ScoreFilter(WordCountFilter(min_words=50)),
            ScoreFilter(NonAlphaNumericFilter()),
            JsonlWriter(output_dir),
        ],
    )
    config = {"return_results": False, "num_cpus": 2, "fuse_stages": False}
    executor = RayActorPoolExecutor(config=config, show_progress=False)
    start = time.perf_counter()
    pipeline.run(executor)
    wall = time.perf_counter() - start
    report = executor.last_report
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rows_in = report.stages[-1].rows_in if report else 0
    print(json.dumps({"peak_rss_mb": peak_kb / 1024, "wall_s": wall, "writer_rows_in": rows_in}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=float, default=40.0, help="size of the 1x corpus in MB")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--target-mb", type=float, default=50.0, help="most the 4x peak may exceed the 1x peak by")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_pipeline(*args.child)
        return 0
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="raycurator-bench-mem-"))
    results = {}
    for scale in (1, 4):
        corpus = workdir / f"in-{scale}x"
        docs = generate(corpus, args.mb, copies=scale)
        output = workdir / f"out-{scale}x"
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(corpus), str(output)],
            check=False, capture_output=True, text=True,
        )
        if out.returncode != 0:
            print(f"MISSED: the {scale}x run failed (exit {out.returncode}):\n{(out.stdout + out.stderr)[-3000:]}")
            return 1
        results[scale] = json.loads(out.stdout.strip().splitlines()[-1])
        results[scale]["rows_written"] = count_rows(output)
        print(f"{scale}x: {args.mb * scale:.0f} MB, {docs} docs -> {results[scale]['rows_written']} written (unfused), "
              f"wall {results[scale]['wall_s']:.1f}s, "
              f"driver peak RSS {results[scale]['peak_rss_mb']:.0f} MB")
    delta = results[4]["peak_rss_mb"] - results[1]["peak_rss_mb"]
    print(f"driver peak RSS 4x - 1x: {delta:+.0f} MB (target within {args.target_mb:.0f} MB)")
    missed = []
    if results[1]["rows_written"] == 0 or results[4]["rows_written"] != 4 * results[1]["rows_written"]:
        missed.append(f"the 4x run wrote {results[4]['rows_written']} rows, not 4 x {results[1]['rows_written']}")
    if delta > args.target_mb:
        missed.append(f"driver peak RSS grew by {delta:.0f} MB > {args.target_mb:.0f} MB")
    for reason in missed:
        print(f"MISSED: {reason}")
    if not missed:
        print("OK: driver memory flat and 4x the rows written")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
