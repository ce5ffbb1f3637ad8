"""Benchmark: NeMo Curator's file-based fuzzy-dedup stages wired by hand vs our FuzzyDeduplicationWorkflow.

Both run on `LocalExecutor` (one process, so the figures compare the work, not actor start-up)
over one generated corpus (`bench_dedup_scaling.write_corpus`: originals plus planted exact and
near copies) with the same MinHash/LSH parameters:

* stages: `MinHashStage` (signature files) -> `LSHStage` (bucket files) -> `BucketsToEdgesStage`
  -> `ConnectedComponentsStage` -> `IdentifyDuplicatesStage`, as NeMo's fuzzy workflow wires them,
  with the id generator actor (on an embedded Ray of its own, started before the clock);
* workflow: identification only (`perform_removal=False`), in memory.

Prints each wall time (the fastest of `--repeat` runs, so imports are warm), the number of
documents listed for removal, the recall of the planted copies, and whether both list as many.

Run: ``.venv/bin/python benchmarks/bench_nemo_dedup_stages.py [--docs 4000] [--words 200]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_dedup_scaling import write_corpus


def run_stages(source: Path, work: Path, bands: int, rows: int) -> tuple[float, int]:
    """(seconds, documents listed for removal) of the stages wired by hand."""
    import pyarrow.parquet as pq

    from raycurator.backends.local import LocalExecutor
    from raycurator.pipeline import Pipeline
    from raycurator.stages.deduplication.fuzzy.buckets_to_edges import BucketsToEdgesStage
    from raycurator.stages.deduplication.fuzzy.connected_components import ConnectedComponentsStage
    from raycurator.stages.deduplication.fuzzy.identify_duplicates import IdentifyDuplicatesStage
    from raycurator.stages.deduplication.fuzzy.lsh.stage import LSHStage
    from raycurator.stages.deduplication.fuzzy.minhash import MinHashStage
    from raycurator.stages.deduplication.id_generator import create_id_generator_actor, kill_id_generator_actor
    from raycurator.stages.file_partitioning import FilePartitioningStage

    cache, out = str(work / "cache"), str(work / "out")
    executor = LocalExecutor()
    create_id_generator_actor()  # on the Ray main() started, before the clock
    try:
        start = time.perf_counter()
        Pipeline("minhash", stages=[
            FilePartitioningStage(str(source), files_per_partition=1, file_extensions=[".jsonl"]),
            MinHashStage(output_path=cache, num_hashes=bands * rows, read_format="jsonl"),
        ]).run(executor)
        lsh_tasks = Pipeline("lsh", stages=[
            FilePartitioningStage(f"{cache}/MinHashStage", file_extensions=[".parquet"], blocksize="2GiB"),
            LSHStage(num_bands=bands, minhashes_per_band=rows, output_path=cache),
        ]).run(executor)
        results = Pipeline("cc", stages=[
            BucketsToEdgesStage(output_path=cache),
            ConnectedComponentsStage(output_path=cache),
            IdentifyDuplicatesStage(output_path=out),
        ]).run(executor, initial_tasks=[t for t in lsh_tasks if t._metadata["num_docs"] > 0])
        seconds = time.perf_counter() - start
    finally:
        kill_id_generator_actor()
    removed = sum(pq.read_metadata(f).num_rows for t in results for f in t.data)
    return seconds, removed


def run_workflow(source: Path, work: Path, bands: int, rows: int) -> tuple[float, list[str]]:
    """(seconds, ids listed for removal) of FuzzyDeduplicationWorkflow."""
    import pyarrow.parquet as pq

    from raycurator.backends.local import LocalExecutor
    from raycurator.stages.deduplication.fuzzy.workflow import FuzzyDeduplicationWorkflow

    start = time.perf_counter()
    result = FuzzyDeduplicationWorkflow(
        str(work / "cache"), str(work / "out"), str(source), input_filetype="jsonl", id_field="id",
        num_bands=bands, minhashes_per_band=rows, files_per_partition=1,
    ).run(executor=LocalExecutor())
    seconds = time.perf_counter() - start
    return seconds, [i for f in result.duplicate_id_files for i in pq.read_table(f).column("id").to_pylist()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=4000)
    parser.add_argument("--words", type=int, default=200)
    parser.add_argument("--docs-per-file", type=int, default=1000)
    parser.add_argument("--bands", type=int, default=20)
    parser.add_argument("--rows", type=int, default=13)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each; the fastest counts (imports warm)")
    args = parser.parse_args()
    import ray

    from raycurator.backends.ray_cluster import start_local_ray

    start_local_ray(num_cpus=1)  # our own embedded Ray for the id generator (never another one on the machine)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        truth = write_corpus(root / "in", args.docs, args.words, 0.05, 0.05, 0.01, args.docs_per_file, seed=1)
        workflow_runs = [run_workflow(root / "in", root / f"workflow{k}", args.bands, args.rows)
                         for k in range(args.repeat)]
        stages_runs = [run_stages(root / "in", root / f"stages{k}", args.bands, args.rows) for k in range(args.repeat)]
    ray.shutdown()
    workflow_s, workflow_ids = min(workflow_runs, key=lambda r: r[0])
    stages_s, stages_removed = min(stages_runs, key=lambda r: r[0])
    planted = set(truth["exact"]) | set(truth["near"])
    recall = len(planted & set(workflow_ids)) / len(planted)
    print(f"{args.docs} docs x {args.words} words, {args.bands} bands x {args.rows} rows, LocalExecutor")
    print(f"  workflow (in memory):      {workflow_s:6.2f} s, {len(workflow_ids)} listed, planted recall {recall:.3f}")
    print(f"  NeMo stages (file-based):  {stages_s:6.2f} s, {stages_removed} listed")
    same = stages_removed == len(workflow_ids)
    print(f"  same number of duplicates: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
