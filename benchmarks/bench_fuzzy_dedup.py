"""Benchmark: raycurator's CPU fuzzy dedup vs datasketch MinHash + MinHashLSH on one corpus.

Generates a corpus (default 20,000 documents of ~300 words, 10% of them near copies of others
with ~1% of words changed), then times

* raycurator: the fuzzy-dedup stages (MinHash, LSH, bucket shuffle, [Jaccard verification],
  connected components) of `FuzzyDeduplicationWorkflow` on in-memory batches, on the local
  executor (one process) or, with ``--executor ray``, the Ray actor-pool executor on
  ``--cpus`` CPUs (Ray is started before the clock starts; actor start-up is timed);
* datasketch: `MinHash(num_perm, seed)` over the same character n-gram shingles with
  `update_batch`, inserted into and queried from `MinHashLSH(params=(bands, rows))`, then
  connected components of the candidate pairs (same SciPy call) -- one process.

Both use the same num_perm, bands x rows, n-gram size and seed, and read no files. Prints
documents per second for each and the ratio. datasketch is needed only here:
``.venv/bin/pip install datasketch``.

Run: ``.venv/bin/python benchmarks/bench_fuzzy_dedup.py [--docs 20000] [--no-verify]``
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time

import numpy as np
import pyarrow as pa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from raycurator.backends.ray_cluster import start_local_ray
from raycurator.stages.deduplication.common import DUPLICATE_OF_FIELD
from raycurator.stages.deduplication.fuzzy.workflow import FuzzyDeduplicationWorkflow
from raycurator.tasks import DocumentBatch


def make_corpus(num_docs: int, words: int, near_fraction: float, seed: int) -> tuple[list[str], list[str], list]:
    """(ids, texts, injected (original, copy) pairs)."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = ["".join(rng.choice(letters) for _ in range(rng.randint(2, 9))) for _ in range(20000)]
    num_near = int(num_docs * near_fraction)
    originals = [[rng.choice(vocab) for _ in range(words)] for _ in range(num_docs - num_near)]
    texts = [" ".join(w) for w in originals]
    pairs = []
    for _ in range(num_near):
        source = rng.randrange(len(originals))
        copy = list(originals[source])
        for index in rng.sample(range(words), max(1, words // 100)):
            copy[index] = rng.choice(vocab)
        pairs.append((source, len(texts)))
        texts.append(" ".join(copy))
    ids = [f"doc-{i:08d}" for i in range(len(texts))]
    return ids, texts, [(ids[a], ids[b]) for a, b in pairs]


def make_executor(name: str, cpus: int):
    if name == "local":
        from raycurator.backends.local import LocalExecutor

        return LocalExecutor()
    import ray

    from raycurator.backends.ray_actor_pool.executor import RayActorPoolExecutor

    if not ray.is_initialized():  # started outside the timed region
        start_local_ray(num_cpus=cpus)
    return RayActorPoolExecutor(config={"num_cpus": cpus}, show_progress=False)


def run_raycurator(ids: list[str], texts: list[str], args: argparse.Namespace) -> tuple[float, dict[str, str]]:
    table = pa.table({"id": ids, "text": texts})
    size = -(-len(ids) // args.batches)
    batches = [
        DocumentBatch(task_id=f"batch-{i:04d}", dataset_name="bench", data=table.slice(start, size))
        for i, start in enumerate(range(0, len(ids), size))
    ]
    workflow = FuzzyDeduplicationWorkflow(
        "unused", "unused", id_field="id", seed=args.seed, char_ngrams=args.char_ngrams,
        num_bands=args.bands, minhashes_per_band=args.rows, verify=args.verify,
        jaccard_threshold=args.threshold, lsh_num_output_partitions=args.partitions,
    )
    executor = make_executor(args.executor, args.cpus)
    elapsed = float("inf")
    for _ in range(args.repeat):  # best of `repeat` runs
        start = time.perf_counter()
        out = executor.execute(workflow.signature_stages(), batches)
        elapsed = min(elapsed, time.perf_counter() - start)
    duplicates: dict[str, str] = {}
    for task in out:
        data = task.data
        duplicates.update(zip(data.column("id").to_pylist(), data.column(DUPLICATE_OF_FIELD).to_pylist(),
                              strict=True))
    return elapsed, duplicates


def run_datasketch(ids: list[str], texts: list[str], args: argparse.Namespace) -> tuple[float, dict[str, str]]:
    from datasketch import MinHash, MinHashLSH

    n, num_perm = args.char_ngrams, args.bands * args.rows
    start = time.perf_counter()
    lsh = MinHashLSH(num_perm=num_perm, params=(args.bands, args.rows))
    signatures = []
    for doc_id, text in zip(ids, texts, strict=True):
        shingles = {text[i : i + n] for i in range(max(1, len(text) - n + 1))}
        minhash = MinHash(num_perm=num_perm, seed=args.seed)
        minhash.update_batch([s.encode("utf-8") for s in shingles])
        lsh.insert(doc_id, minhash)
        signatures.append(minhash)
    index = {doc_id: i for i, doc_id in enumerate(ids)}
    left, right = [], []
    for doc_id, minhash in zip(ids, signatures, strict=True):
        for other in lsh.query(minhash):
            if other != doc_id:
                left.append(index[doc_id])
                right.append(index[other])
    graph = coo_matrix((np.ones(len(left)), (left, right)), shape=(len(ids), len(ids))).tocsr()
    _, labels = connected_components(graph, directed=False)
    first: dict[int, int] = {}
    duplicates = {}
    for i, label in enumerate(labels):  # ids are in ascending order: the first of a label is kept
        if label in first:
            duplicates[ids[i]] = ids[first[label]]
        else:
            first[label] = i
    return time.perf_counter() - start, duplicates


def recall(pairs: list, duplicates: dict[str, str]) -> float:
    rep = lambda doc: duplicates.get(doc, doc)  # noqa: E731
    return sum(rep(a) == rep(b) for a, b in pairs) / max(1, len(pairs))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=20000)
    parser.add_argument("--words", type=int, default=300)
    parser.add_argument("--near-fraction", type=float, default=0.1, help="share of documents that are near copies")
    parser.add_argument("--bands", type=int, default=20)
    parser.add_argument("--rows", type=int, default=13)
    parser.add_argument("--char-ngrams", type=int, default=24)
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--batches", type=int, default=8, help="input batches of the raycurator pipeline")
    parser.add_argument("--partitions", type=int, default=None, help="shuffle partitions (default: one per batch)")
    parser.add_argument("--no-verify", dest="verify", action="store_false", help="skip Jaccard verification")
    parser.add_argument("--executor", choices=["local", "ray"], default="local")
    parser.add_argument("--cpus", type=int, default=2, help="CPUs given to Ray with --executor ray")
    parser.add_argument("--repeat", type=int, default=1, help="time raycurator best of N runs")
    parser.add_argument("--skip-datasketch", action="store_true")
    parser.add_argument("--datasketch-docs", type=int, default=None,
                        help="time datasketch on the first N documents only (docs/s is per document)")
    args = parser.parse_args()

    if not args.skip_datasketch:
        try:
            import datasketch  # noqa: F401
        except ImportError:
            print("datasketch is not installed; it is needed only for this benchmark:\n"
                  "    .venv/bin/pip install datasketch\n"
                  "(or pass --skip-datasketch to time raycurator alone)", file=sys.stderr)
            return 2

    ids, texts, pairs = make_corpus(args.docs, args.words, args.near_fraction, args.seed)
    print(f"corpus: {len(ids)} documents, {sum(map(len, texts)) / len(texts):.0f} chars on average, "
          f"{len(pairs)} injected near copies; num_perm={args.bands * args.rows} "
          f"({args.bands} bands x {args.rows} rows), char_ngrams={args.char_ngrams}, seed={args.seed}; "
          f"{os.cpu_count()} CPUs visible")

    ours_s, ours_dups = run_raycurator(ids, texts, args)
    ours_rate = len(ids) / ours_s
    print(f"raycurator ({args.executor} executor, verify={args.verify}): {ours_s:.2f}s, "
          f"{ours_rate:,.0f} docs/s, {len(ours_dups)} duplicates, recall of injected pairs "
          f"{recall(pairs, ours_dups):.3f}")
    if args.skip_datasketch:
        return 0
    n = args.datasketch_docs or len(ids)
    sketch_s, sketch_dups = run_datasketch(ids[:n], texts[:n], args)
    sketch_rate = n / sketch_s
    in_range = [(a, b) for a, b in pairs if int(b[4:]) < n]
    print(f"datasketch MinHash + MinHashLSH ({n} docs): {sketch_s:.2f}s, {sketch_rate:,.0f} docs/s, "
          f"{len(sketch_dups)} duplicates, recall of injected pairs {recall(in_range, sketch_dups):.3f}")
    print(f"speed-up (raycurator docs/s / datasketch docs/s): {ours_rate / sketch_rate:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
