"""Language identification throughput: `FastTextLangId` through the executor vs a plain predict loop.

The documents are Django's human-translated messages in 34 languages (about 400 characters
each, repeated up to `--docs`). The baseline is the same LID-176 model's `predict` called once
per document in a plain Python loop on one core; the pipeline is `ScoreFilter(FastTextLangId())`
on `RayActorPoolExecutor` over in-memory batches on a local Ray with 2 CPUs (actor start-up and
model loading included). Prints docs/s and MB/s of both and the ratio ours / (baseline x 2),
target >= 0.8.

    .venv/bin/python benchmarks/bench_langid.py [--docs 40000] [--batch-docs 1000]
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

import pyarrow as pa
import ray

from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
from raycurator.backends.ray_cluster import start_local_ray
from raycurator.pipeline import Pipeline
from raycurator.stages.text.filters import ScoreFilter
from raycurator.stages.text.filters.fasttext import FastTextLangId, bundled_langid_model_path
from raycurator.stages.text.filters.fasttext.model_file import load_model
from raycurator.tasks import DocumentBatch

_CATALOGS = Path(__file__).resolve().parents[1] / "tests" / "stages" / "text" / "message_catalogs.py"


def documents(count: int) -> list[str]:
    spec = importlib.util.spec_from_file_location("message_catalogs", _CATALOGS)
    catalogs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(catalogs)
    root = catalogs.django_root()
    base = [doc for locale in catalogs.LANGUAGES for doc in catalogs.catalog_documents(root, locale, limit=30)]
    return [base[i % len(base)] for i in range(count)]


def plain_loop(texts: list[str]) -> float:
    """Seconds for the model's predict on each document, one call per document, on this core."""
    model = load_model(bundled_langid_model_path())
    start = time.perf_counter()
    for text in texts:
        model.predict(text.replace("\n", " "), k=1)
    return time.perf_counter() - start


def through_executor(texts: list[str], batch_docs: int) -> float:
    tasks = [
        DocumentBatch(task_id=f"b{i}", dataset_name="bench", data=pa.table({"text": texts[i : i + batch_docs]}))
        for i in range(0, len(texts), batch_docs)
    ]
    pipeline = Pipeline("langid_bench", stages=[ScoreFilter(FastTextLangId(), score_field="language")])
    start = time.perf_counter()
    results = pipeline.run(executor=RayActorPoolExecutor(show_progress=False), initial_tasks=tasks)
    seconds = time.perf_counter() - start
    assert sum(task.num_items for task in results) > 0.95 * len(texts)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=40_000)
    parser.add_argument("--batch-docs", type=int, default=1000, help="documents per input batch")
    args = parser.parse_args()
    texts = documents(args.docs)
    megabytes = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    loop_s = plain_loop(texts)
    start_local_ray(num_cpus=2, log_to_driver=False)
    try:
        ours_s = through_executor(texts, args.batch_docs)
    finally:
        ray.shutdown()
    loop_rate, ours_rate = len(texts) / loop_s, len(texts) / ours_s
    print(f"{len(texts):,} documents, {megabytes:.1f} MB")
    print(f"plain predict loop, 1 core : {loop_rate:10,.0f} docs/s {megabytes / loop_s:7.2f} MB/s")
    print(f"FastTextLangId, 2 CPUs     : {ours_rate:10,.0f} docs/s {megabytes / ours_s:7.2f} MB/s")
    print(f"ratio ours / (loop x 2)    : {ours_rate / (2 * loop_rate):.2f}  (target >= 0.8)")


if __name__ == "__main__":
    main()
