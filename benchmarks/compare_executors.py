"""Compare raycurator's executors on one text pipeline: read JSONL → 3 heuristic filters → write JSONL.

    python benchmarks/compare_executors.py                 # ~200 MB corpus, every executor
    python benchmarks/compare_executors.py --scale 0.05    # a quick check
    python benchmarks/compare_executors.py --workdir /tmp/bench --keep  # reuse the corpus later

A deterministic corpus (40 JSONL files; most documents pass, some are too short, some are
symbol-heavy, some mostly punctuation) is generated once. Then every executor runs the same
pipeline in its own child process, so each driver's peak RSS (`getrusage(RUSAGE_SELF)`) is
its own: LocalExecutor, RayActorPoolExecutor stage-by-stage and streaming, RayDataExecutor.
The same work done in one plain Python process (json + the filter rules written plainly,
no framework) is the floor; its time divided by the cores is the ideal parallel floor.
Every run must write the floor's documents: the same ids and the same text (a digest of the
sorted (id, text) pairs), each once. The script exits 1 when a run fails or its output differs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

logger = logging.getLogger("compare_executors")

EXECUTORS = ("local", "actor_pool_stage_by_stage", "actor_pool_streaming", "ray_data")
FLOOR = "plain_python"
MIN_WORDS, MAX_WORDS = 50, 100_000
MAX_NON_ALNUM = 0.25
MAX_SYMBOLS_PER_WORD = 0.1
RUN_TIMEOUT_S = 420

# -- the corpus ----------------------------------------------------------------------------------
_SYLLABLES = ["ka", "ro", "mi", "te", "sa", "lu", "ne", "po", "di", "va", "shi", "gor", "en", "tal", "bre", "qu"]
_COMMON = ["the", "of", "and", "to", "in", "that", "with", "for", "is", "was", "on", "as", "by", "be"]


def _vocabulary(rng: random.Random, size: int = 5000) -> list[str]:
    words = set()
    while len(words) < size:
        words.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 4))))
    return sorted(words)


def _sentence(rng: random.Random, vocabulary: list[str], words: int) -> str:
    picked = [rng.choice(_COMMON) if rng.random() < 0.3 else rng.choice(vocabulary) for _ in range(words)]
    return " ".join(picked).capitalize() + rng.choice([".", ".", ".", "?", "!", ","])


def _document(rng: random.Random, vocabulary: list[str]) -> str:
    kind = rng.random()
    if kind < 0.06:  # too short for the word-count filter
        return _sentence(rng, vocabulary, rng.randint(5, 40))
    sentences = [_sentence(rng, vocabulary, rng.randint(6, 22)) for _ in range(rng.randint(5, 20))]
    if kind < 0.11:  # hashtags and ellipses everywhere: symbol-to-word filter
        sentences = [s + " #" + rng.choice(vocabulary) + " ..." for s in sentences]
    elif kind < 0.16:  # mostly punctuation: non-alphanumeric filter
        sentences = [s + " -- ** ;; // == ++ ::" for s in sentences]
    paragraphs = [" ".join(sentences[i : i + 4]) for i in range(0, len(sentences), 4)]
    return "\n\n".join(paragraphs)


def _write_file(args: tuple[Path, int, int]) -> int:
    path, index, docs = args
    rng = random.Random(1_000_003 * (index + 1))
    vocabulary = _vocabulary(random.Random(7))
    with open(path, "w", encoding="utf-8") as handle:
        for row in range(docs):
            record = {
                "id": f"doc-{index:03d}-{row:06d}",
                "text": _document(rng, vocabulary),
                "url": f"https://example.org/{index}/{row}",
            }
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path.stat().st_size


def make_corpus(directory: Path, files: int, docs_per_file: int, workers: int) -> int:
    """Write the corpus (reused when a matching one is there); returns its size in bytes."""
    manifest = directory / "_manifest.json"
    wanted = {"files": files, "docs_per_file": docs_per_file, "version": 1}
    if manifest.exists() and json.loads(manifest.read_text()) == wanted:
        return sum(p.stat().st_size for p in directory.glob("*.jsonl"))
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    jobs = [(directory / f"part-{i:03d}.jsonl", i, docs_per_file) for i in range(files)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        total = sum(pool.map(_write_file, jobs))
    manifest.write_text(json.dumps(wanted))
    return total


# -- the floor: one plain Python process ------------------------------------------------------------
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\n?!,.")
_ELLIPSES = {"...", "[...]", "\u2026", "(...)", "[\u2026]", "-\u00bb", "read more..", "read more"}
_HASH_RUNS = re.compile("#+")


def _keep_plain(text: str) -> bool:
    words = len(text.split())
    if not MIN_WORDS <= words <= MAX_WORDS:
        return False
    # NeMo Curator's definitions (as the filters): ASCII letters/digits and "\n?!,." are alphanumeric;
    # a symbol word is an ellipsis form or a word whose runs of "#" per character exceed 0.5.
    length = len(text)
    non_alnum = (length - sum(c in _ALNUM for c in text)) / length if length else 1.0
    if non_alnum > MAX_NON_ALNUM:
        return False
    tokens = [w.strip() for w in text.strip().split()]
    symbols = sum(w in _ELLIPSES or (w and len(_HASH_RUNS.findall(w)) / len(w) > 0.5) for w in tokens)
    return symbols / len(tokens) <= MAX_SYMBOLS_PER_WORD


def run_plain(input_dir: Path, output_dir: Path) -> None:
    """Read every file, keep the documents all three filters keep, write them: no framework."""
    output_dir.mkdir(parents=True, exist_ok=True)
    for path in sorted(input_dir.glob("*.jsonl")):
        with open(path, encoding="utf-8") as source, open(output_dir / path.name, "w", encoding="utf-8") as sink:
            for line in source:
                record = json.loads(line)
                if _keep_plain(record["text"]):
                    sink.write(json.dumps(record, ensure_ascii=False) + "\n")


# -- one executor, in this (child) process ------------------------------------------------------------
def _executor(name: str):
    if name == "local":
        from raycurator.backends.local import LocalExecutor

        return LocalExecutor()
    if name.startswith("actor_pool"):
        from raycurator.backends.ray_actor_pool import RayActorPoolExecutor

        mode = "stage_by_stage" if name.endswith("stage_by_stage") else "streaming"
        return RayActorPoolExecutor(config={"mode": mode}, show_progress=False)
    if name == "ray_data":
        from raycurator.backends.ray_data import RayDataExecutor

        return RayDataExecutor()
    raise ValueError(f"unknown executor {name!r}; choose from {(*EXECUTORS, FLOOR)}")


def run_pipeline(name: str, input_dir: Path, output_dir: Path) -> None:
    from raycurator.pipeline import Pipeline
    from raycurator.stages.text.filters import (
        NonAlphaNumericFilter,
        ScoreFilter,
        SymbolsToWordsFilter,
        WordCountFilter,
    )
    from raycurator.stages.text.io.reader import JsonlReader
    from raycurator.stages.text.io.writer import JsonlWriter

    pipeline = Pipeline(
        "compare_executors",
        stages=[
            JsonlReader(str(input_dir), files_per_partition=1),
            ScoreFilter(WordCountFilter(min_words=MIN_WORDS, max_words=MAX_WORDS)),
            ScoreFilter(NonAlphaNumericFilter(max_non_alpha_numeric_to_text_ratio=MAX_NON_ALNUM)),
            ScoreFilter(SymbolsToWordsFilter(max_symbol_to_word_ratio=MAX_SYMBOLS_PER_WORD)),
            JsonlWriter(str(output_dir)),
        ],
    )
    pipeline.run(_executor(name))


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def child_main(name: str, input_dir: Path, output_dir: Path, cpus: int) -> dict:
    """Run one executor (or the floor); the figures as a dict."""
    shutil.rmtree(output_dir, ignore_errors=True)
    ray_start = 0.0
    if name not in ("local", FLOOR):
        from raycurator.backends.ray_cluster import start_local_ray

        started = time.perf_counter()
        start_local_ray(num_cpus=cpus)
        ray_start = time.perf_counter() - started
    rss_before = _rss_mb()
    started = time.perf_counter()
    try:
        if name == FLOOR:
            run_plain(input_dir, output_dir)
        else:
            run_pipeline(name, input_dir, output_dir)
        wall = time.perf_counter() - started
    finally:
        if ray_start:
            import ray

            ray.shutdown()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    rows, unique_ids, digest = output_content(output_dir)
    return {"name": name, "wall_s": wall, "ray_start_s": ray_start, "rows_out": rows, "unique_ids": unique_ids,
            "content_digest": digest, "peak_rss_mb": peak_mb, "rss_before_mb": rss_before}  # fmt: skip


def output_content(output_dir: Path) -> tuple[int, int, str]:
    """(rows, distinct ids, SHA-256 of the sorted (id, text) pairs) of every JSONL file written."""
    pairs = []
    for path in output_dir.rglob("*.jsonl"):
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                pairs.append((record["id"], record["text"]))
    pairs.sort()
    digest = hashlib.sha256()
    for doc_id, text in pairs:
        digest.update(json.dumps([doc_id, text], ensure_ascii=False).encode())
        digest.update(b"\n")
    return len(pairs), len({doc_id for doc_id, _ in pairs}), digest.hexdigest()


def content_problem(result: dict, floor: dict | None) -> str | None:
    """Why a run's output is not the floor's (None when it is, or when there is no floor)."""
    if result["unique_ids"] != result["rows_out"]:
        return f"{result['rows_out'] - result['unique_ids']} duplicate ids"
    if not floor or "error" in floor:
        return None
    if result["rows_out"] != floor["rows_out"]:
        return f"{result['rows_out']} rows, the floor {floor['rows_out']}"
    if result["content_digest"] != floor["content_digest"]:
        return "ids or texts differ from the floor's"
    return None


def run_child(name: str, input_dir: Path, workdir: Path, cpus: int) -> dict:
    """`child_main` in a fresh Python process; its figures, or an error entry."""
    command = [sys.executable, __file__, "--child", name, "--input", str(input_dir),
               "--output", str(workdir / "out" / name), "--cpus", str(cpus)]  # fmt: skip
    env = dict(os.environ, RAYCURATOR_LOG_DIR=str(workdir / "runs"), RAY_DEDUP_LOGS="1")
    logger.info("running %s ...", name)
    started = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, env=env, check=False)
    except subprocess.TimeoutExpired:
        return {"name": name, "error": f"timed out after {RUN_TIMEOUT_S} s"}
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line.removeprefix("RESULT "))
            result["process_s"] = time.perf_counter() - started
            return result
    tail = (done.stdout + done.stderr)[-2000:]
    return {"name": name, "error": f"exit code {done.returncode}: {tail}"}


# -- the report --------------------------------------------------------------------------------------
def format_table(results: list[dict], floor: dict | None, cores: int, corpus_mb: float, docs: int) -> str:
    good = [r for r in results if "error" not in r]
    best = min((r["wall_s"] for r in good), default=None)
    lines = [
        f"corpus: {corpus_mb:.0f} MB, {docs:,} documents; {cores} CPU cores",
        f"{'executor':<28}{'wall s':>9}{'ray start s':>13}{'rows out':>11}{'driver peak RSS MB':>20}"
        f"{'vs best':>9}{'vs floor/cores':>16}",
    ]
    floor_per_core = floor["wall_s"] / cores if floor and "error" not in floor else None
    for result in results:
        if "error" in result:
            lines.append(f"{result['name']:<28}  FAILED: {result['error'][:300]}")
            continue
        problem = content_problem(result, floor)
        check = f"  OUTPUT DIFFERS: {problem}" if problem else ""
        vs_floor = f"{result['wall_s'] / floor_per_core:.2f}x" if floor_per_core else "-"
        lines.append(
            f"{result['name']:<28}{result['wall_s']:>9.1f}{result['ray_start_s']:>13.1f}{result['rows_out']:>11,}"
            f"{result['peak_rss_mb']:>20.0f}{result['wall_s'] / best:>8.2f}x{vs_floor:>16}{check}"
        )
    if floor and "error" not in floor:
        lines.append(
            f"{'floor: ' + FLOOR:<28}{floor['wall_s']:>9.1f}{'-':>13}{floor['rows_out']:>11,}"
            f"{floor['peak_rss_mb']:>20.0f}{'':>9}{'1.00x':>16}  (/{cores} cores = {floor_per_core:.1f} s)"
        )
    elif floor:
        lines.append(f"floor: {FLOOR} FAILED: {floor['error'][:300]}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, help="where the corpus and outputs go (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the workdir (and its corpus) afterwards")
    parser.add_argument("--scale", type=float, default=1.0, help="corpus size factor (1.0: about 200 MB)")
    parser.add_argument("--files", type=int, default=40, help="number of JSONL files")
    parser.add_argument("--cpus", type=int, default=len(os.sched_getaffinity(0)), help="CPUs for Ray")
    parser.add_argument("--executors", default=",".join(EXECUTORS), help=f"comma-separated subset of {EXECUTORS}")
    parser.add_argument("--no-floor", action="store_true", help="skip the plain-Python floor")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    if args.child:
        print("RESULT " + json.dumps(child_main(args.child, args.input, args.output, args.cpus)), flush=True)
        return 0

    names = [n.strip() for n in args.executors.split(",") if n.strip()]
    unknown = sorted(set(names) - set(EXECUTORS))
    if unknown:
        parser.error(f"unknown executor(s) {unknown}; choose from {EXECUTORS}")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="raycurator-bench-"))
    corpus = workdir / "corpus"
    docs_per_file = max(10, round(3800 * args.scale))
    started = time.perf_counter()
    size = make_corpus(corpus, args.files, docs_per_file, args.cpus)
    logger.info("corpus: %.0f MB in %s (%.1f s)", size / 1e6, corpus, time.perf_counter() - started)
    try:
        floor = None if args.no_floor else run_child(FLOOR, corpus, workdir, args.cpus)
        results = [run_child(name, corpus, workdir, args.cpus) for name in names]
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    table = format_table(results, floor, args.cpus, size / 1e6, args.files * docs_per_file)
    print(table)
    if args.json:
        args.json.write_text(json.dumps({"results": results, "floor": floor, "cores": args.cpus,
                                         "corpus_bytes": size}, indent=2))  # fmt: skip
    failed = [r["name"] for r in results if "error" in r]
    mismatched = [r["name"] for r in results if "error" not in r and content_problem(r, floor)]
    if floor and "error" in floor:
        failed.append(FLOOR)
    if failed or mismatched:
        print(f"MISSED: failed {failed}, output differs from the floor {mismatched}")
        return 1
    print("OK: every executor wrote the floor's documents" if floor else "OK: every executor ran (no floor to compare)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
