"""Benchmark: do the dedup workflows scale on the Ray actor pool? (issue #22)

Generates a planted-copies corpus as JSONL files: random documents of `--words` words, plus
exact copies (``--exact-frac`` of the documents) and near copies made by replacing
``--edit-frac`` (default 1.5%) of an original's words; every copy's id sorts after its
original's, so the copy is the one a workflow must remove. Then, at 1x and 4x size, runs
`FuzzyDeduplicationWorkflow` and `ExactDeduplicationWorkflow` end to end (identification and
removal) on `LocalExecutor` and on `RayActorPoolExecutor`, each run in a fresh child process:

* wall: the workflow's `run()` only; for the actor pool Ray is started (``--cpus`` CPUs,
  loopback) before the clock starts, as a user with a cluster has it;
* peak memory: the largest sum of the proportional set sizes (PSS: shared pages, such as
  Ray's object store, split between the processes that map them) of the child and every
  process it started (Ray's GCS, raylet and workers included), sampled every 0.2 s;
* recall / precision of the removed ids against the planted truth (exact copies for exact
  dedup; exact and near copies for fuzzy dedup).

Prints one line per run and, per workflow, the speed-up (local wall / actor-pool wall) at each
size, the growth of each executor's wall from 1x to 4x, and the memory ratio. Exits 1 when a
target is missed: speed-up >= `--target-speedup` (1.7) at the largest size, recall >= 0.98,
precision 1.0, wall growing no worse than linearly (4x size: at most `--linear-slack` x 4 the
1x wall), actor-pool memory at most 2x the local run's. Timings need a quiet machine.

Run: ``python benchmarks/bench_dedup_scaling.py [--docs 36853] [--scales 1 4] [--cpus 2]``
(a quick check: ``--docs 4000 --no-targets``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

EXECUTORS = ("local", "ray")
WORKFLOWS = ("fuzzy", "exact")


# -- corpus -------------------------------------------------------------------------------------
def write_corpus(directory: Path, num_docs: int, words: int, exact_frac: float, near_frac: float,
                 edit_frac: float, docs_per_file: int, seed: int) -> dict[str, list[str]]:
    """Write the corpus under `directory`; return the planted truth {"exact": [...], "near": [...]}."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocabulary = ["".join(rng.choice(letters) for _ in range(rng.randint(2, 9))) for _ in range(30000)]
    num_exact, num_near = int(num_docs * exact_frac), int(num_docs * near_frac)
    num_originals = num_docs - num_exact - num_near
    originals = [[rng.choice(vocabulary) for _ in range(words)] for _ in range(num_originals)]
    docs = [(f"a{i:09d}", " ".join(w)) for i, w in enumerate(originals)]
    truth: dict[str, list[str]] = {"exact": [], "near": []}
    for i in range(num_exact):  # copies are named "b..." / "c...": they sort after every original
        source = rng.randrange(num_originals)
        docs.append((f"b{i:09d}", docs[source][1]))
        truth["exact"].append(f"b{i:09d}")
    for i in range(num_near):
        words_copy = list(originals[rng.randrange(num_originals)])
        for index in rng.sample(range(words), max(1, round(edit_frac * words))):
            words_copy[index] = rng.choice(vocabulary)
        docs.append((f"c{i:09d}", " ".join(words_copy)))
        truth["near"].append(f"c{i:09d}")
    rng.shuffle(docs)
    directory.mkdir(parents=True, exist_ok=True)
    for part, start in enumerate(range(0, len(docs), docs_per_file)):
        with open(directory / f"part-{part:05d}.jsonl", "w", encoding="utf-8") as handle:
            for doc_id, text in docs[start : start + docs_per_file]:
                handle.write(json.dumps({"id": doc_id, "text": text}) + "\n")
    return truth


# -- one run, in a child process ----------------------------------------------------------------
def child(args: argparse.Namespace) -> int:
    import pyarrow.parquet as pq

    from raycurator.stages.deduplication.exact.workflow import ExactDeduplicationWorkflow
    from raycurator.stages.deduplication.fuzzy.workflow import FuzzyDeduplicationWorkflow

    out = Path(args.out)
    if args.executor == "local":
        from raycurator.backends.local import LocalExecutor

        executor = LocalExecutor()
    else:
        import ray

        from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
        from raycurator.backends.ray_cluster import start_local_ray

        for attempt in range(3):  # a fresh embedded Ray on loopback, before the clock starts
            try:
                start_local_ray(num_cpus=args.cpus)
                break
            except Exception as error:  # Ray gives a node 30 s to come up: too little on a loaded machine
                ray.shutdown()
                if attempt == 2:
                    raise
                print(f"Ray did not start ({error}); trying again", file=sys.stderr)
        executor = RayActorPoolExecutor(config={"log_dir": str(out / "runs")}, show_progress=False)
    if args.workflow == "fuzzy":
        workflow = FuzzyDeduplicationWorkflow(
            str(out / "cache"), str(out / "result"), args.input, input_filetype="jsonl", perform_removal=True,
            num_bands=args.bands, minhashes_per_band=args.rows, id_field="id",
        )
    else:
        workflow = ExactDeduplicationWorkflow(
            str(out / "result"), args.input, input_filetype="jsonl", perform_removal=True, id_field="id",
        )
    start = time.perf_counter()
    result = workflow.run(executor=executor)
    wall = time.perf_counter() - start
    removed = [i for f in result.duplicate_id_files for i in pq.read_table(f, columns=["id"])["id"].to_pylist()]
    stages = {}
    for report in sorted((out / "runs").glob("*/report.json")) if args.executor == "ray" else []:
        data = json.loads(report.read_text())
        for stage in data.get("stages", []):
            stages[stage["stage_name"]] = {"active_s": round(stage.get("active_s") or 0.0, 2),
                                           "busy_s": round(stage.get("busy_s", 0.0), 2)}
    print(json.dumps({"wall": wall, "identify": result.identification_time_s, "remove": result.removal_time_s,
                      "removed": removed, "stages": stages}))
    if args.executor == "ray":
        import ray

        ray.shutdown()
    return 0


def run_child(cmd: list[str]) -> tuple[dict, float]:
    """Run `cmd`; (its JSON line, peak summed PSS in bytes of it and its descendants)."""
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        root = psutil.Process(process.pid)
        while not done.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                break
            total = 0
            for proc in procs:
                try:  # PSS: pages shared between processes (Ray's object store) count once in the sum
                    info = proc.memory_full_info()
                    total += getattr(info, "pss", info.rss)
                except psutil.Error:
                    pass
            peak = max(peak, total)
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, _ = process.communicate()
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed with exit code {process.returncode}")
    return json.loads(stdout.strip().splitlines()[-1]), peak


def score(removed: list[str], truth: set[str]) -> tuple[float, float]:
    found = len(set(removed) & truth)
    return found / max(1, len(truth)), (found / len(removed)) if removed else 1.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=36853, help="documents at 1x (copies included)")
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--words", type=int, default=180)
    parser.add_argument("--exact-frac", type=float, default=1000 / 36853)
    parser.add_argument("--near-frac", type=float, default=4000 / 36853)
    parser.add_argument("--edit-frac", type=float, default=0.015, help="share of words changed in a near copy")
    parser.add_argument("--docs-per-file", type=int, default=2000)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--bands", type=int, default=20, help="LSH bands of the fuzzy workflow")
    parser.add_argument("--rows", type=int, default=9, help="minhashes per band of the fuzzy workflow")
    parser.add_argument("--workflows", nargs="+", choices=WORKFLOWS, default=list(WORKFLOWS))
    parser.add_argument("--executors", nargs="+", choices=EXECUTORS, default=list(EXECUTORS))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--target-speedup", type=float, default=1.7)
    parser.add_argument("--linear-slack", type=float, default=1.1, help="allowed excess over linear growth")
    parser.add_argument("--no-targets", action="store_true", help="report only; exit 0 even on a missed target")
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--workflow", choices=WORKFLOWS, help=argparse.SUPPRESS)
    parser.add_argument("--executor", choices=EXECUTORS, help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bench-dedup-scaling-"))
    print(f"{os.cpu_count()} CPUs visible, load average {os.getloadavg()[0]:.2f}; work dir {workdir}")
    results: dict[tuple[str, str, int], dict] = {}
    failed: list[str] = []
    for scale in args.scales:
        num_docs = args.docs * scale
        corpus = workdir / f"corpus-{scale}x"
        truth = write_corpus(corpus, num_docs, args.words, args.exact_frac, args.near_frac, args.edit_frac,
                             args.docs_per_file, args.seed)
        size_mb = sum(f.stat().st_size for f in corpus.iterdir()) / 1e6
        print(f"{scale}x: {num_docs} documents, {size_mb:.0f} MB, {len(truth['exact'])} exact and "
              f"{len(truth['near'])} near copies planted")
        for workflow in args.workflows:
            planted = set(truth["exact"]) | (set(truth["near"]) if workflow == "fuzzy" else set())
            for executor in args.executors:
                out = workdir / f"run-{workflow}-{executor}-{scale}x"
                cmd = [sys.executable, __file__, "--child", "--workflow", workflow, "--executor", executor,
                       "--input", str(corpus), "--out", str(out), "--cpus", str(args.cpus),
                       "--bands", str(args.bands), "--rows", str(args.rows)]
                try:
                    data, peak = run_child(cmd)
                except RuntimeError as error:
                    print(f"  {workflow:5s} {executor:5s} {scale}x: FAILED ({error})")
                    failed.append(f"{workflow}/{executor}/{scale}x did not run")
                    continue
                recall, precision = score(data["removed"], planted)
                results[(workflow, executor, scale)] = {**data, "peak": peak, "recall": recall,
                                                        "precision": precision}
                print(f"  {workflow:5s} {executor:5s} {scale}x: wall {data['wall']:6.2f}s "
                      f"(identify {data['identify']:.2f}s, remove {data['remove']:.2f}s), "
                      f"peak memory {peak / 2**30:.2f} GiB, recall {recall:.3f}, precision {precision:.3f}")
                if data["stages"]:
                    print("      stages (active/busy s): " + ", ".join(
                        f"{name} {s['active_s']}/{s['busy_s']}" for name, s in data["stages"].items()))

    missed: list[str] = list(failed)
    largest, smallest = max(args.scales), min(args.scales)
    for (workflow, executor, scale), r in sorted(results.items()):
        if r["recall"] < 0.98 or r["precision"] < 1.0:
            missed.append(f"{workflow}/{executor}/{scale}x recall {r['recall']:.3f} precision {r['precision']:.3f}")
    for workflow in args.workflows:
        for scale in args.scales:
            local, ray = results.get((workflow, "local", scale)), results.get((workflow, "ray", scale))
            if not (local and ray):
                continue
            speedup, memory = local["wall"] / ray["wall"], ray["peak"] / max(1, local["peak"])
            print(f"{workflow} {scale}x: speed-up {speedup:.2f}x (local {local['wall']:.2f}s / actor pool "
                  f"{ray['wall']:.2f}s), memory actor pool / local {memory:.2f}x")
            if scale == largest and speedup < args.target_speedup:
                missed.append(f"{workflow} {scale}x speed-up {speedup:.2f} < {args.target_speedup}")
            if scale == largest and memory > 2.0:
                missed.append(f"{workflow} {scale}x memory ratio {memory:.2f} > 2")
        if largest != smallest:
            for executor in args.executors:
                small, big = results.get((workflow, executor, smallest)), results.get((workflow, executor, largest))
                if small and big:
                    growth = big["wall"] / small["wall"]
                    limit = largest / smallest * args.linear_slack
                    print(f"{workflow} {executor}: wall grows {growth:.2f}x from {smallest}x to {largest}x "
                          f"(linear: {largest / smallest:.0f}x)")
                    if growth > limit:
                        missed.append(f"{workflow}/{executor} growth {growth:.2f} > {limit:.2f}")
    if missed:
        print("MISSED: " + "; ".join(missed))
        return 0 if args.no_targets else 1
    print("all targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
