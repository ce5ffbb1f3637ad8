"""Streaming vs stage-by-stage: 4 CPU-bound stages of equal cost on 2 CPUs.

Prints the wall time of both modes and the ratio streaming / stage-by-stage (target <= 0.75),
for two workloads run on one local Ray (Ray's start-up is not counted):

- equal: every task costs the same in every stage;
- varied (the headline): task costs vary by +-`--jitter` around the mean, like batches of
  documents of different lengths; a task costs the same in every stage and every stage's total
  is the same as in the equal workload.

For comparison it also times the old behaviour written by hand in raw Ray (new actors per
stage, outputs pulled back to the driver, actors killed), which `mode="stage_by_stage"` keeps.

Each mode runs `--repeats` times in alternating order (A B B A ...) and its best wall counts, so
neither mode gains from running first in a fresh Ray. Also printed: the bound no streaming engine
can beat, (the CPU work / 2 + the start of the first actors) / stage-by-stage, and with `--sweep`
the same ratios for shorter and longer stages (the fixed cost of each stage boundary weighs less
as stages grow).

    .venv/bin/python benchmarks/bench_streaming.py [--tasks 16] [--seconds 0.25] [--jitter 0.5] [--sweep]
"""

from __future__ import annotations

import argparse
import random
import time

import pyarrow as pa
import ray
from ray.util import ActorPool

from raycurator import DocumentBatch, ProcessingStage
from raycurator.backends.ray_actor_pool import RayActorPoolExecutor

MODES = ("stage_by_stage", "streaming")


class Burn(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Spins the CPU for the task's cost; records when its first call started."""

    def __init__(self, name: str, costs: dict[str, float]) -> None:
        self._name, self.costs = name, costs

    def process(self, task: DocumentBatch) -> DocumentBatch:
        started = time.time()
        end = time.process_time() + self.costs[task.task_id]
        x = 0
        while time.process_time() < end:
            x += 1
        task._metadata.setdefault("started", []).append(started)
        return task


def costs_for(tasks: int, mean: float, jitter: float) -> dict[str, float]:
    rng = random.Random(0)
    raw = [1 + jitter * rng.uniform(-1, 1) for _ in range(tasks)]
    scale = tasks * mean / sum(raw)
    return {f"t{i}": value * scale for i, value in enumerate(raw)}


def run_once(mode: str, costs: dict[str, float]) -> tuple[float, float]:
    """(wall, seconds until the first task started) of one run."""
    stages = [Burn(f"burn{i}", costs) for i in range(4)]
    tasks = [DocumentBatch(task_id, "bench", pa.table({"x": [i]})) for i, task_id in enumerate(costs)]
    executor = RayActorPoolExecutor(config={"mode": mode}, show_progress=False)
    start = time.time()
    outputs = executor.execute(stages, tasks)
    wall = time.time() - start
    assert len(outputs) == len(tasks)
    first = min(min(t._metadata["started"]) for t in outputs) - start
    return wall, first


@ray.remote(num_cpus=1)
class _RawWorker:
    """The old behaviour by hand: one of a stage's actors, created for that stage only."""

    def __init__(self, stage: Burn) -> None:
        self.stage = stage

    def ready(self) -> bool:
        return True

    def process(self, task: DocumentBatch) -> DocumentBatch:
        return self.stage.process(task)


def run_reference(costs: dict[str, float]) -> float:
    """Wall of a hand-written stage-by-stage run in raw Ray: per stage, 2 new actors, every output
    pulled back to the driver (`ActorPool.map_unordered`), actors killed before the next stage."""
    tasks = [DocumentBatch(task_id, "bench", pa.table({"x": [i]})) for i, task_id in enumerate(costs)]
    start = time.time()
    for index in range(4):
        actors = [_RawWorker.remote(Burn(f"burn{index}", costs)) for _ in range(2)]
        ray.get([actor.ready.remote() for actor in actors])
        tasks = list(ActorPool(actors).map_unordered(lambda actor, task: actor.process.remote(task), tasks))
        for actor in actors:
            ray.kill(actor)
    return time.time() - start


def measure(costs: dict[str, float], repeats: int) -> dict[str, tuple[float, float]]:
    """Best (wall, first start) per mode over `repeats` runs each, in A B B A order."""
    order = [MODES[(i + i // 2) % 2] for i in range(2 * repeats)]  # A B B A A B ...
    best: dict[str, tuple[float, float]] = {}
    for mode in order:
        wall, first = run_once(mode, costs)
        if mode not in best or wall < best[mode][0]:
            best[mode] = (wall, first)
    return best


def report(label: str, costs: dict[str, float], repeats: int) -> tuple[float, float]:
    best = measure(costs, repeats)
    (sbs, _), (streaming, first) = best["stage_by_stage"], best["streaming"]
    bound = (4 * sum(costs.values()) / 2 + first) / sbs
    print(
        f"{label}: stage_by_stage {sbs:.2f}s, streaming {streaming:.2f}s, ratio {streaming / sbs:.2f} "
        f"(bound for any streaming engine: {bound:.2f})"
    )
    return streaming / sbs, bound


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=0.25, help="mean CPU seconds per task per stage")
    parser.add_argument("--jitter", type=float, default=0.5, help="task costs vary by +- this fraction")
    parser.add_argument("--repeats", type=int, default=2, help="runs per mode and workload (best counts)")
    parser.add_argument("--sweep", action="store_true", help="also run stages 4x shorter, 2x shorter and 2x longer")
    args = parser.parse_args()
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
    try:
        stage_s = args.tasks * args.seconds / 2
        print(
            f"work: 4 stages x {args.tasks} tasks x {args.seconds}s CPU (mean) on 2 CPUs: "
            f"{stage_s:.1f}s a stage, {4 * stage_s:.1f}s in all"
        )
        equal_costs = costs_for(args.tasks, args.seconds, 0.0)
        equal, _ = report(f"{'equal':>6} task costs (+-0%)", equal_costs, args.repeats)
        reference = min(run_reference(equal_costs) for _ in range(args.repeats))
        print(f"  (the old behaviour written by hand in raw Ray, equal costs: {reference:.2f}s)")
        varied, _ = report(
            f"varied task costs (+-{args.jitter:.0%})", costs_for(args.tasks, args.seconds, args.jitter), args.repeats
        )
        print(
            f"ratio streaming / stage_by_stage: {varied:.2f} with varied task costs, "
            f"{equal:.2f} with equal ones (target <= 0.75)"
        )
        if args.sweep:
            print("sweep over the length of a stage (varied task costs):")
            for factor in (0.25, 0.5, 2.0):
                seconds = args.seconds * factor
                report(
                    f"  {stage_s * factor:4.1f}s a stage", costs_for(args.tasks, seconds, args.jitter), args.repeats
                )
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
