"""Benchmark: `EmbeddingCreatorStage` through the Ray actor-pool executor vs sentence-transformers.

Embeds the same documents (the demo corpus's prose generator, default 4,000 documents) with

* raycurator: `EmbeddingCreatorStage` (all-MiniLM-L6-v2 from the installed package) on the
  actor-pool executor over ``--cpus`` CPUs (default 2), tasks of ``--docs-per-task`` documents;
* sentence-transformers: `SentenceTransformer.encode` on the same model with torch using the
  same number of threads, in this process.

Like for like: neither side counts its process start-up, imports and model loading. The
sentence-transformers side loads the model and encodes a few documents before its clock
starts; the executor side's start-up (from the run's start to the model stage's first batch:
actor processes, torch and model loading, the first tokenized batch) is printed on its own
(`start-up`) and taken out of its documents/s; the end-to-end figure with it is printed too.
Ray starts before any clock. Each side runs ``--repeats`` times in alternating order and the
fastest run of each counts (most of the noise of a shared machine goes). Prints documents per
second of each, their ratio (target >= 0.8; the exit status is 1 below it), the CPU ratio
(encode's CPU seconds over those of the whole executor run, driver and Ray processes, start-up
included: independent of how busy a shared machine is) and the largest difference between
the two sets of vectors.

Run: ``.venv/bin/python benchmarks/bench_embed.py [--docs 4000] [--cpus 2] [--repeats 2]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pyarrow as pa
from _cpu_meter import DescendantCpu

from raycurator.backends.ray_cluster import start_local_ray
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


def make_tasks(texts: list[str], docs_per_task: int) -> list[DocumentBatch]:
    return [
        DocumentBatch(task_id=f"t{i:05d}", dataset_name="bench",
                      data=pa.table({"id": list(range(i, min(i + docs_per_task, len(texts)))),
                                     "text": texts[i : i + docs_per_task]}))
        for i in range(0, len(texts), docs_per_task)
    ]  # fmt: skip


def run_raycurator(texts: list[str], cpus: int, docs_per_task: int) -> tuple[float, float, float, np.ndarray]:
    """(wall seconds, start-up seconds, CPU seconds of the driver and all Ray processes, vectors in
    document order) of one executor run (Ray already up)."""
    from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
    from raycurator.pipeline import Pipeline

    tasks = make_tasks(texts, docs_per_task)
    executor = RayActorPoolExecutor(config={"num_cpus": cpus}, show_progress=False)
    started_at, start, cpu = time.time(), time.perf_counter(), time.process_time()
    with DescendantCpu() as ray_cpu:
        out = Pipeline("bench_embed", stages=[EmbeddingCreatorStage()]).run(executor, tasks)
    elapsed = time.perf_counter() - start
    cpu_s = time.process_time() - cpu + ray_cpu.seconds
    model = next(s for s in executor.last_report.stages if s.stage_name.endswith("_model"))
    startup = (model.first_start - started_at) if model.first_start else 0.0
    table = pa.concat_tables([t.to_pyarrow() for t in out])
    order = np.argsort(table.column("id").to_numpy())
    return elapsed, startup, cpu_s, np.array(table.column("embeddings").to_pylist())[order]


class SentenceTransformersSide:
    """`SentenceTransformer.encode` with `cpus` torch threads; loaded and warmed up before any clock."""

    def __init__(self, cpus: int) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(cpus)
        self.model = SentenceTransformer(resolve_model_path("all-MiniLM-L6-v2"), device="cpu", local_files_only=True)

    def warm_up(self, texts: list[str]) -> None:
        self.model.encode(texts[:64], batch_size=64, normalize_embeddings=True)

    def run(self, texts: list[str]) -> tuple[float, float, np.ndarray]:
        """(wall seconds, CPU seconds, vectors)."""
        start, cpu = time.perf_counter(), time.process_time()
        vectors = self.model.encode(texts, batch_size=64, normalize_embeddings=True)
        return time.perf_counter() - start, time.process_time() - cpu, vectors


def main() -> int:
    import ray

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=4000)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--docs-per-task", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=2, help="runs of each side, alternating; the fastest counts")
    parser.add_argument("--target", type=float, default=0.8)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    use_offline_mode()
    texts = corpus(args.docs, args.seed)
    words = sum(len(t.split()) for t in texts) / len(texts)
    print(f"{len(texts)} documents, {words:.0f} words on average, {args.cpus} CPU(s); "
          f"best of {args.repeats} alternating runs per side")  # fmt: skip
    st_side = SentenceTransformersSide(args.cpus)
    st_side.warm_up(texts)
    st_runs: list[tuple[float, float, np.ndarray]] = []
    rc_runs: list[tuple[float, float, float, np.ndarray]] = []
    start_local_ray(num_cpus=args.cpus, log_to_driver=False)
    try:
        for repeat in range(args.repeats):
            if repeat % 2 == 0:
                st_runs.append(st_side.run(texts))
                rc_runs.append(run_raycurator(texts, args.cpus, args.docs_per_task))
            else:
                rc_runs.append(run_raycurator(texts, args.cpus, args.docs_per_task))
                st_runs.append(st_side.run(texts))
    finally:
        ray.shutdown()
    st_time, _, st_vectors = min(st_runs, key=lambda r: r[0])
    rc_time, startup, _, rc_vectors = min(rc_runs, key=lambda r: r[0] - r[1])
    cpu_ratio = min(r[1] for r in st_runs) / min(r[2] for r in rc_runs)
    st_rate, rc_rate, e2e_rate = len(texts) / st_time, len(texts) / (rc_time - startup), len(texts) / rc_time
    ratio = rc_rate / st_rate
    print(f"sentence-transformers encode: {st_time:7.2f} s  {st_rate:8.1f} docs/s")
    print(f"raycurator (actor pool):      {rc_time - startup:7.2f} s  {rc_rate:8.1f} docs/s "
          f"(start-up {startup:.1f} s apart)")  # fmt: skip
    print(f"raycurator end to end:        {rc_time:7.2f} s  {e2e_rate:8.1f} docs/s (start-up included)")
    print(f"ratio: {ratio:.2f} (target >= {args.target}); end to end {e2e_rate / st_rate:.2f}")
    print(f"CPU ratio (encode's CPU seconds / the whole executor run's, start-up included; "
          f"independent of machine load): {cpu_ratio:.2f}")  # fmt: skip
    print(f"largest difference between the vectors: {np.abs(rc_vectors - st_vectors).max():.2e}")
    if not ratio >= args.target:
        print(f"MISSED target {args.target}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
