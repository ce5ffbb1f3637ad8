"""Per-task overhead: 20,000 tiny tasks through 3 no-op stages, like for like against raw Ray.

Two comparisons, each ours / raw in tasks/s (target >= 0.7 for the headline):

- headline: our streaming executor with fusion off (three calls per task, one per stage's
  actors) against a hand-written chain of raw `ray.util.ActorPool.map_unordered` calls making
  the same three calls per task (2 actors per stage);
- fused, reported beside it: our default (`fuse_stages=True`: one call per task runs the three
  stages) against the raw chain given one fused call per task as well.

Both sides queue the same number of calls per actor (`--depth`, our `pipeline_depth`; the raw
pool lists each actor that many times), both run after a warm-up run of every variant in the
same Ray, and the variants run `--repeats` times in rotating order, the best wall of each
counting. Every run's outputs are checked. Exits 1 when the headline misses the target.

    .venv/bin/python benchmarks/bench_overhead.py [--tasks 20000] [--batch-size 1] [--repeats 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import ray
from ray.util import ActorPool

from raycurator import ProcessingStage, Task
from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
from raycurator.backends.ray_cluster import start_local_ray

TARGET = 0.7


@dataclass(repr=False)
class Tiny(Task[int]):
    """A task carrying one integer."""

    @property
    def num_items(self) -> int:
        return 1

    def validate(self) -> bool:
        return True


class NoOp(ProcessingStage[Tiny, Tiny]):
    def __init__(self, name: str, batch_size: int) -> None:
        self._name, self._batch_size = name, batch_size

    def process(self, task: Tiny) -> Tiny:
        return task


@ray.remote(num_cpus=0)
class RawWorker:
    """What a hand-written pipeline would run: its stages' `process`, in order, over a chunk."""

    def __init__(self, stages: list[NoOp]) -> None:
        self.stages = stages

    def run(self, tasks: list[Tiny]) -> list[Tiny]:
        for stage in self.stages:
            tasks = [stage.process(t) for t in tasks]
        return tasks


def raw_chain(groups: list[list[NoOp]], tasks: list[Tiny], chunk: int, depth: int) -> list[Tiny]:
    """One `ActorPool.map_unordered` per group of stages (2 actors each, `depth` calls queued per actor)."""
    current = tasks
    for group in groups:
        actors = [RawWorker.remote(group) for _ in range(2)]
        pool = ActorPool([actor for actor in actors for _ in range(depth)])
        chunks = [current[i : i + chunk] for i in range(0, len(current), chunk)]
        current = [t for out in pool.map_unordered(lambda a, c: a.run.remote(c), chunks) for t in out]
        for actor in actors:
            ray.kill(actor)
    return current


def variants(stages: list[NoOp], batch_size: int, depth: int) -> dict[str, Callable[[list[Tiny]], list[Tiny]]]:
    """Every variant timed, by name: a function of the tasks returning the outputs."""

    def ours(fuse: bool) -> Callable[[list[Tiny]], list[Tiny]]:
        def run(tasks: list[Tiny]) -> list[Tiny]:
            config = {"fuse_stages": fuse, "pipeline_depth": depth}
            return RayActorPoolExecutor(config=config, show_progress=False).execute(stages, tasks)

        return run

    return {
        "ours_unfused": ours(False),
        "raw_3_calls": lambda tasks: raw_chain([[s] for s in stages], tasks, batch_size, depth),
        "ours_fused": ours(True),
        "raw_1_call": lambda tasks: raw_chain([stages], tasks, batch_size, depth),
    }


def timed(name: str, run: Callable[[list[Tiny]], list[Tiny]], tasks: list[Tiny]) -> float:
    start = time.perf_counter()
    outputs = run(tasks)
    seconds = time.perf_counter() - start
    if sorted(t.data for t in outputs) != [t.data for t in tasks]:
        raise SystemExit(f"{name}: outputs differ from the inputs ({len(outputs)} of {len(tasks)} tasks)")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=1, help="tasks per call, for both")
    parser.add_argument("--depth", type=int, default=2, help="calls queued per actor, for both")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per variant (best counts)")
    parser.add_argument("--warmup-tasks", type=int, default=200)
    parser.add_argument("--target", type=float, default=TARGET)
    args = parser.parse_args()
    start_local_ray(num_cpus=2, log_to_driver=False)  # every port on loopback
    try:
        stages = [NoOp(f"noop{i}", args.batch_size) for i in range(3)]
        runs = variants(stages, args.batch_size, args.depth)
        warmup = [Tiny(f"w{i}", "bench", i) for i in range(args.warmup_tasks)]
        for name, run in runs.items():
            timed(name, run, warmup)
        tasks = [Tiny(f"t{i}", "bench", i) for i in range(args.tasks)]
        best: dict[str, float] = {}
        names = list(runs)
        for round_index in range(args.repeats):
            shift = round_index % len(names)
            for name in names[shift:] + names[:shift]:
                seconds = timed(name, runs[name], tasks)
                best[name] = min(seconds, best.get(name, seconds))
    finally:
        ray.shutdown()
    print(f"{args.tasks} tiny tasks x 3 no-op stages, batch size {args.batch_size}, depth {args.depth}, 2 CPUs")
    for name, seconds in best.items():
        print(f"  {name:<14} {seconds:7.2f}s  {args.tasks / seconds:9,.0f} tasks/s")
    headline = best["raw_3_calls"] / best["ours_unfused"]
    fused = best["raw_1_call"] / best["ours_fused"]
    print(f"ratio ours / raw (tasks/s), 3 calls per task (unfused, headline): {headline:.2f} (target >= {args.target})")
    print(f"ratio ours / raw (tasks/s), 1 fused call per task: {fused:.2f}")
    print(f"fusion's own gain, ours fused / ours unfused: {best['ours_unfused'] / best['ours_fused']:.2f}")
    if headline < args.target:
        print(f"MISSED: unfused ratio {headline:.2f} < target {args.target}")
        return 1
    print(f"OK: unfused ratio {headline:.2f} >= target {args.target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
