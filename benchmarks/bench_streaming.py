"""Streaming vs stage-by-stage: 4 CPU-bound stages of equal cost on 2 CPUs.

Prints the wall time of both modes and the ratio streaming / stage-by-stage (target <= 0.75),
for two workloads run back to back on one local Ray (Ray's start-up is not counted):

- equal: every task costs the same in every stage;
- varied (the default headline): task costs vary by +-`--jitter` around the mean, like batches of
  documents of different lengths; a task costs the same in every stage and every stage's total
  is the same as in the equal workload.

    .venv/bin/python benchmarks/bench_streaming.py [--tasks 16] [--seconds 0.25] [--jitter 0.5]
"""

from __future__ import annotations

import argparse
import random
import time

import pyarrow as pa
import ray

from raycurator import DocumentBatch, ProcessingStage
from raycurator.backends.ray_actor_pool import RayActorPoolExecutor


class Burn(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Spins the CPU for the task's cost."""

    def __init__(self, name: str, costs: dict[str, float]) -> None:
        self._name, self.costs = name, costs

    def process(self, task: DocumentBatch) -> DocumentBatch:
        end = time.process_time() + self.costs[task.task_id]
        x = 0
        while time.process_time() < end:
            x += 1
        return task


def costs_for(tasks: int, mean: float, jitter: float) -> dict[str, float]:
    rng = random.Random(0)
    raw = [1 + jitter * rng.uniform(-1, 1) for _ in range(tasks)]
    scale = tasks * mean / sum(raw)
    return {f"t{i}": value * scale for i, value in enumerate(raw)}


def measure(costs: dict[str, float]) -> dict[str, float]:
    stages = [Burn(f"burn{i}", costs) for i in range(4)]
    tasks = [DocumentBatch(task_id, "bench", pa.table({"x": [i]})) for i, task_id in enumerate(costs)]
    walls = {}
    for mode in ("stage_by_stage", "streaming"):
        executor = RayActorPoolExecutor(config={"mode": mode}, show_progress=False)
        start = time.perf_counter()
        outputs = executor.execute(stages, tasks)
        walls[mode] = time.perf_counter() - start
        assert len(outputs) == len(tasks)
    return walls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=0.25, help="mean CPU seconds per task per stage")
    parser.add_argument("--jitter", type=float, default=0.5, help="task costs vary by +- this fraction")
    args = parser.parse_args()
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
    try:
        ideal = 4 * args.tasks * args.seconds / 2
        print(f"work: 4 stages x {args.tasks} tasks x {args.seconds}s CPU (mean) on 2 CPUs; ideal {ideal:.1f}s")
        ratios = {}
        for label, jitter in (("equal", 0.0), ("varied", args.jitter)):
            walls = measure(costs_for(args.tasks, args.seconds, jitter))
            ratios[label] = walls["streaming"] / walls["stage_by_stage"]
            print(f"{label:>6} task costs (+-{jitter:.0%}): stage_by_stage {walls['stage_by_stage']:.2f}s, "
                  f"streaming {walls['streaming']:.2f}s, ratio {ratios[label]:.2f}")
        print(f"ratio streaming / stage_by_stage: {ratios['varied']:.2f} with varied task costs, "
              f"{ratios['equal']:.2f} with equal ones (target <= 0.75)")
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
