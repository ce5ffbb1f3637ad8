"""Benchmark: semantic dedup end to end, documents per second and peak memory.

Two modes:

* ``--mode text`` (default): `TextSemanticDeduplicationWorkflow` on JSONL files of generated
  prose (the demo corpus generator) where ``--dup-fraction`` of the documents are light
  rewrites of others (a few words swapped): embed (all-MiniLM-L6-v2), k-means, pairwise,
  identify, remove;
* ``--mode embeddings``: `SemanticDeduplicationWorkflow` on Parquet files of random 384-d
  embeddings drawn around ``--n-clusters`` centres, with near copies: k-means, pairwise and
  identify only (what the GPU part of NeMo Curator's pipeline does).

Runs on the Ray actor-pool executor over ``--cpus`` CPUs (default 2). Peak memory is the
largest sum of resident memory of this process and all its descendants (the Ray processes),
sampled every 0.2 s. Prints documents/s, the phase times, the duplicates found and the
largest cluster (what bounds the pairwise step's memory).

The issue sets no figure to reach; ``--min-docs-per-s`` and ``--max-memory-mb`` set targets
(the exit status is 1 when one is missed). Phase times are printed with their documents/s, so
a run at a smaller ``--docs`` extrapolates to 100k (every phase is linear in the documents at
a fixed cluster size: embedding per document, k-means on a capped sample plus one assignment
pass, pairwise within clusters).

Run: ``.venv/bin/python benchmarks/bench_semdedup.py [--docs 100000] [--mode text|embeddings]
[--min-docs-per-s N] [--max-memory-mb N]``
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.parquet as pq

from raycurator.backends.ray_cluster import start_local_ray
from raycurator.cli.corpus import make_documents


class PeakMemory:
    """Samples the resident memory of this process tree in a thread; `peak_mb` is the largest sum."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for proc in [me, *me.children(recursive=True)]:
                try:
                    total += proc.memory_info().rss
                except psutil.Error:
                    pass
            self.peak_mb = max(self.peak_mb, total / 2**20)
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def write_text_corpus(folder: Path, num_docs: int, dup_fraction: float, seed: int, files: int) -> None:
    rng = random.Random(seed)
    texts: list[str] = []
    attempt = 0
    num_dups = int(num_docs * dup_fraction)
    while len(texts) < num_docs - num_dups:
        texts.extend(d["text"] for d in make_documents(num_docs, seed=seed + attempt) if d["kind"] == "clean")
        attempt += 1
    texts = texts[: num_docs - num_dups]
    originals = list(texts)  # one copy, not one slice per rewrite (that was quadratic in --docs)
    for _ in range(num_dups):
        words = rng.choice(originals).split()
        for _ in range(max(1, len(words) // 50)):
            i, j = rng.randrange(len(words)), rng.randrange(len(words))
            words[i], words[j] = words[j], words[i]
        texts.append(" ".join(words))
    folder.mkdir(parents=True, exist_ok=True)
    per_file = -(-len(texts) // files)
    for k in range(files):
        with open(folder / f"part-{k:04d}.jsonl", "w", encoding="utf-8") as handle:
            for i in range(k * per_file, min((k + 1) * per_file, len(texts))):
                handle.write(json.dumps({"id": f"doc-{i:08d}", "text": texts[i]}) + "\n")


def write_embeddings(folder: Path, num_docs: int, dup_fraction: float, n_centres: int, seed: int, files: int) -> None:
    rng = np.random.default_rng(seed)
    num_dups = int(num_docs * dup_fraction)
    centres = rng.normal(size=(n_centres, 384)).astype(np.float32)
    base = centres[rng.integers(0, n_centres, num_docs - num_dups)] + rng.normal(
        scale=0.6, size=(num_docs - num_dups, 384)
    ).astype(np.float32)
    copies = base[rng.integers(0, len(base), num_dups)] + rng.normal(scale=0.01, size=(num_dups, 384)).astype(
        np.float32
    )
    vectors = np.concatenate([base, copies])
    folder.mkdir(parents=True, exist_ok=True)
    per_file = -(-num_docs // files)
    for k in range(files):
        lo, hi = k * per_file, min((k + 1) * per_file, num_docs)
        flat = pa.array(vectors[lo:hi].reshape(-1))
        column = pa.ListArray.from_arrays(pa.array(np.arange(hi - lo + 1, dtype=np.int32) * 384), flat)
        ids = pa.array([f"doc-{i:08d}" for i in range(lo, hi)])
        pq.write_table(pa.table({"id": ids, "embeddings": column}), folder / f"part-{k:04d}.parquet")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--mode", choices=["text", "embeddings"], default="text")
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--n-clusters", type=int, default=100)
    parser.add_argument("--eps", type=float, default=0.01)
    parser.add_argument("--dup-fraction", type=float, default=0.1)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--min-docs-per-s", type=float, default=None, help="target: end-to-end documents/s")
    parser.add_argument("--max-memory-mb", type=float, default=None, help="target: peak memory")
    args = parser.parse_args()

    import ray

    from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
    from raycurator.pipeline.semantic_dedup import SemanticDeduplicationWorkflow
    from raycurator.pipeline.text_semantic_dedup import TextSemanticDeduplicationWorkflow

    with tempfile.TemporaryDirectory(prefix="bench-semdedup-") as tmp:
        root = Path(tmp)
        if args.mode == "text":
            write_text_corpus(root / "input", args.docs, args.dup_fraction, args.seed, args.files)
            flow = TextSemanticDeduplicationWorkflow(
                input_path=str(root / "input"), output_path=str(root / "out"), input_filetype="jsonl",
                output_filetype="jsonl", id_field="id", n_clusters=args.n_clusters, eps=args.eps, verbose=False,
            )  # fmt: skip
        else:
            write_embeddings(root / "input", args.docs, args.dup_fraction, args.n_clusters, args.seed, args.files)
            flow = SemanticDeduplicationWorkflow(
                input_path=str(root / "input"), output_path=str(root / "out"), n_clusters=args.n_clusters,
                eps=args.eps, verbose=False,
            )  # fmt: skip
        start_local_ray(num_cpus=args.cpus, log_to_driver=False)
        try:
            executor = RayActorPoolExecutor(config={"num_cpus": args.cpus}, show_progress=False)
            with PeakMemory() as memory:
                start = time.perf_counter()
                result = flow.run(executor)
                elapsed = time.perf_counter() - start
        finally:
            ray.shutdown()
        summary = result.get_metadata("summary")
        largest = max((c.size for c in summary.clusters), default=0)
        print(f"mode {args.mode}: {args.docs} documents, {args.n_clusters} clusters, eps {args.eps}, "
              f"{args.cpus} CPU(s)")  # fmt: skip
        print(f"wall {elapsed:.1f} s -> {args.docs / elapsed:.1f} documents/s; peak memory {memory.peak_mb:.0f} MB")
        for key in ("embedding_time", "kmeans_time", "pairwise_time", "removal_time"):
            seconds = result.get_metadata(key)
            if seconds is not None:
                print(f"  {key}: {seconds:.1f} s ({args.docs / max(seconds, 1e-9):.1f} documents/s)")
        print(f"duplicates at eps {args.eps}: {result.get_metadata('num_duplicates')} "
              f"(injected {int(args.docs * args.dup_fraction)}); largest cluster {largest} documents")  # fmt: skip
        print(summary.format_table())
    missed = []
    if args.min_docs_per_s is not None and not args.docs / elapsed >= args.min_docs_per_s:
        missed.append(f"{args.docs / elapsed:.1f} documents/s < {args.min_docs_per_s}")
    if args.max_memory_mb is not None and not memory.peak_mb <= args.max_memory_mb:
        missed.append(f"peak memory {memory.peak_mb:.0f} MB > {args.max_memory_mb:.0f} MB")
    if missed:
        print("MISSED target: " + "; ".join(missed))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
