"""Streaming vs stage-by-stage: 4 CPU-bound stages of equal cost on 2 CPUs.

Prints the wall time of three modes and the ratios against stage-by-stage, for two workloads
run on one local Ray (Ray's start-up is not counted):

- streaming with fusion off (the headline, target <= 0.75): every stage has its own actors and
  tasks cross the object store between them, so the ratio measures overlap, not fusion;
- streaming with the default `fuse_stages=True` (reported beside it): the four stages run in one
  actor, which also saves three actor start-ups and three object-store trips per task.

The workloads:

- equal: every task costs the same in every stage;
- varied (the headline): task costs vary by +-`--jitter` around the mean, like batches of
  documents of different lengths; a task costs the same in every stage and every stage's total
  is the same as in the equal workload.

For comparison it also times the old behaviour written by hand in raw Ray (new actors per
stage, outputs pulled back to the driver, actors killed), which `mode="stage_by_stage"` keeps.

Each mode runs `--repeats` times in rotating order and its best wall counts, so no mode gains
from running first in a fresh Ray; every run's outputs are checked (every task, through all
four stages). Exits 1 when the headline (unfused, varied costs) misses the target.
Also printed: the bound no streaming engine can beat, (the CPU work / 2 + the start of the
first actors) / stage-by-stage, and with `--sweep` the same ratios for shorter and longer
stages (the fixed cost of each stage boundary weighs less as stages grow).

    .venv/bin/python benchmarks/bench_streaming.py [--tasks 16] [--seconds 0.25] [--jitter 0.5] [--sweep]
"""

from __future__ import annotations

import argparse
import random
import sys
import time

import pyarrow as pa
import ray
from ray.util import ActorPool

from raycurator import DocumentBatch, ProcessingStage
from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
from raycurator.backends.ray_cluster import start_local_ray

MODES = ("stage_by_stage", "streaming", "streaming_fused")
CONFIGS = {
    "stage_by_stage": {"mode": "stage_by_stage"},
    "streaming": {"mode": "streaming", "fuse_stages": False},
    "streaming_fused": {"mode": "streaming", "fuse_stages": True},
}
TARGET = 0.75


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


def check_outputs(mode: str, costs: dict[str, float], outputs: list[DocumentBatch]) -> None:
    """Every task came back once, with its row, having started in each of the four stages."""
    got = sorted((t.task_id, t.to_pyarrow()["x"].to_pylist()[0]) for t in outputs)
    wanted = sorted((task_id, i) for i, task_id in enumerate(costs))
    if got != wanted:
        raise SystemExit(f"{mode}: wrong outputs {got[:5]}... (wanted {wanted[:5]}...)")
    stages_run = {len(t._metadata["started"]) for t in outputs}
    if stages_run != {4}:
        raise SystemExit(f"{mode}: tasks went through {stages_run} stages, not 4")


def run_once(mode: str, costs: dict[str, float]) -> tuple[float, float]:
    """(wall, seconds until the first task started) of one run."""
    stages = [Burn(f"burn{i}", costs) for i in range(4)]
    tasks = [DocumentBatch(task_id, "bench", pa.table({"x": [i]})) for i, task_id in enumerate(costs)]
    executor = RayActorPoolExecutor(config=CONFIGS[mode], show_progress=False)
    start = time.time()
    outputs = executor.execute(stages, tasks)
    wall = time.time() - start
    check_outputs(mode, costs, outputs)
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
    """Best (wall, first start) per mode over `repeats` runs each; each round rotates the order."""
    best: dict[str, tuple[float, float]] = {}
    for round_index in range(repeats):
        shift = round_index % len(MODES)
        for mode in MODES[shift:] + MODES[:shift]:
            wall, first = run_once(mode, costs)
            if mode not in best or wall < best[mode][0]:
                best[mode] = (wall, first)
    return best


def report(label: str, costs: dict[str, float], repeats: int) -> tuple[float, float]:
    """Print one workload's figures; (unfused ratio, fused ratio), both against stage-by-stage."""
    best = measure(costs, repeats)
    sbs = best["stage_by_stage"][0]
    streaming, first = best["streaming"]
    fused = best["streaming_fused"][0]
    bound = (4 * sum(costs.values()) / 2 + first) / sbs
    print(
        f"{label}: stage_by_stage {sbs:.2f}s, streaming (unfused) {streaming:.2f}s ratio {streaming / sbs:.2f}; "
        f"streaming fused {fused:.2f}s ratio {fused / sbs:.2f} (bound for any streaming engine: {bound:.2f})"
    )
    return streaming / sbs, fused / sbs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=0.25, help="mean CPU seconds per task per stage")
    parser.add_argument("--jitter", type=float, default=0.5, help="task costs vary by +- this fraction")
    parser.add_argument("--repeats", type=int, default=2, help="runs per mode and workload (best counts)")
    parser.add_argument("--target", type=float, default=TARGET, help="most the unfused ratio may be")
    parser.add_argument("--sweep", action="store_true", help="also run stages 4x shorter, 2x shorter and 2x longer")
    args = parser.parse_args()
    start_local_ray(num_cpus=2, log_to_driver=False)
    try:
        stage_s = args.tasks * args.seconds / 2
        print(
            f"work: 4 stages x {args.tasks} tasks x {args.seconds}s CPU (mean) on 2 CPUs: "
            f"{stage_s:.1f}s a stage, {4 * stage_s:.1f}s in all"
        )
        equal_costs = costs_for(args.tasks, args.seconds, 0.0)
        equal, equal_fused = report(f"{'equal':>6} task costs (+-0%)", equal_costs, args.repeats)
        reference = min(run_reference(equal_costs) for _ in range(args.repeats))
        print(f"  (the old behaviour written by hand in raw Ray, equal costs: {reference:.2f}s)")
        varied, varied_fused = report(
            f"varied task costs (+-{args.jitter:.0%})", costs_for(args.tasks, args.seconds, args.jitter), args.repeats
        )
        print(
            f"ratio streaming (unfused) / stage_by_stage: {varied:.2f} with varied task costs, "
            f"{equal:.2f} with equal ones (target <= {args.target:.2f})"
        )
        print(
            f"ratio streaming fused / stage_by_stage (fusion and overlap together): {varied_fused:.2f} varied, "
            f"{equal_fused:.2f} equal"
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
    if varied > args.target:
        print(f"MISSED: unfused streaming ratio {varied:.2f} > target {args.target:.2f}")
        return 1
    print(f"OK: unfused streaming ratio {varied:.2f} <= target {args.target:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
