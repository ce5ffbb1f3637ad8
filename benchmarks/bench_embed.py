"""Benchmark: `EmbeddingCreatorStage` through the Ray actor-pool executor vs sentence-transformers.

Embeds the same documents (the demo corpus's prose generator, default 4,000 documents) with

* raycurator: `EmbeddingCreatorStage` (all-MiniLM-L6-v2 from the installed package) on the
  actor-pool executor over ``--cpus`` CPUs (default 2; Ray starts before the clock, actor
  start-up and model loading are timed), tasks of ``--docs-per-task`` documents;
* sentence-transformers: `SentenceTransformer.encode` on the same model with torch using the
  same number of threads, in this process (model loaded before the clock).

Prints documents per second of each, their ratio (target >= 0.8) and the largest difference
between the two sets of vectors.

Run: ``.venv/bin/python benchmarks/bench_embed.py [--docs 4000] [--cpus 2]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pyarrow as pa

from raycurator.cli.corpus import make_documents
from raycurator.stages.text.embedders import EmbeddingCreatorStage
from raycurator.stages.text.models.utils import resolve_model_path, use_offline_mode
from raycurator.tasks import DocumentBatch


def corpus(num_docs: int, seed: int) -> list[str]:
    """Prose documents (junk and copies left out) from the demo corpus generator."""
    texts: list[str] = []
    attempt = 0
    while len(texts) < num_docs:
        docs = make_documents(num_docs * 2, seed=seed + attempt)
        texts.extend(d["text"] for d in docs if d["kind"] == "clean")
        attempt += 1
    return texts[:num_docs]


def run_raycurator(texts: list[str], cpus: int, docs_per_task: int) -> tuple[float, np.ndarray]:
    import ray

    from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
    from raycurator.pipeline import Pipeline

    ray.init(address="local", num_cpus=cpus, include_dashboard=False, _node_ip_address="127.0.0.1",
             log_to_driver=False)  # fmt: skip
    try:
        tasks = [
            DocumentBatch(task_id=f"t{i:05d}", dataset_name="bench",
                          data=pa.table({"id": list(range(i, min(i + docs_per_task, len(texts)))),
                                         "text": texts[i : i + docs_per_task]}))
            for i in range(0, len(texts), docs_per_task)
        ]  # fmt: skip
        executor = RayActorPoolExecutor(config={"num_cpus": cpus}, show_progress=False)
        start = time.perf_counter()
        out = Pipeline("bench_embed", stages=[EmbeddingCreatorStage()]).run(executor, tasks)
        elapsed = time.perf_counter() - start
    finally:
        ray.shutdown()
    table = pa.concat_tables([t.to_pyarrow() for t in out])
    order = np.argsort(table.column("id").to_numpy())
    return elapsed, np.array(table.column("embeddings").to_pylist())[order]


def run_sentence_transformers(texts: list[str], cpus: int) -> tuple[float, np.ndarray]:
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(cpus)
    model = SentenceTransformer(resolve_model_path("all-MiniLM-L6-v2"), device="cpu", local_files_only=True)
    start = time.perf_counter()
    vectors = model.encode(texts, batch_size=64, normalize_embeddings=True)
    return time.perf_counter() - start, vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=4000)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--docs-per-task", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    use_offline_mode()
    texts = corpus(args.docs, args.seed)
    words = sum(len(t.split()) for t in texts) / len(texts)
    print(f"{len(texts)} documents, {words:.0f} words on average, {args.cpus} CPU(s)")
    st_time, st_vectors = run_sentence_transformers(texts, args.cpus)
    rc_time, rc_vectors = run_raycurator(texts, args.cpus, args.docs_per_task)
    st_rate, rc_rate = len(texts) / st_time, len(texts) / rc_time
    print(f"sentence-transformers encode: {st_time:7.2f} s  {st_rate:8.1f} docs/s")
    print(f"raycurator (actor pool):      {rc_time:7.2f} s  {rc_rate:8.1f} docs/s (actor start-up included)")
    print(f"ratio: {rc_rate / st_rate:.2f} (target >= 0.8)")
    print(f"largest difference between the vectors: {np.abs(rc_vectors - st_vectors).max():.2e}")


if __name__ == "__main__":
    main()
