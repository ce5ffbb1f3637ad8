"""Per-task overhead: 20,000 tiny tasks through 3 no-op stages.

Prints our tasks/s, the tasks/s of a hand-written chain of raw `ray.util.ActorPool.map_unordered`
calls doing the same work (2 actors per stage, each task through each stage's `process`), and the
ratio ours / raw (target >= 0.7). Both run on one local Ray with 2 CPUs.

    .venv/bin/python benchmarks/bench_overhead.py [--tasks 20000] [--batch-size 1]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import ray
from ray.util import ActorPool

from raycurator import ProcessingStage, Task
from raycurator.backends.ray_actor_pool import RayActorPoolExecutor


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
    """What a hand-written pipeline would run: the stage's process over a chunk."""

    def __init__(self, stage: NoOp) -> None:
        self.stage = stage

    def run(self, tasks: list[Tiny]) -> list[Tiny]:
        return [self.stage.process(t) for t in tasks]


def raw_chain(stages: list[NoOp], tasks: list[Tiny], chunk: int) -> list[Tiny]:
    current = tasks
    for stage in stages:
        pool = ActorPool([RawWorker.remote(stage) for _ in range(2)])
        chunks = [current[i : i + chunk] for i in range(0, len(current), chunk)]
        current = [t for out in pool.map_unordered(lambda a, c: a.run.remote(c), chunks) for t in out]
    return current


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=1, help="tasks per call, for both")
    args = parser.parse_args()
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
    try:
        stages = [NoOp(f"noop{i}", args.batch_size) for i in range(3)]
        tasks = [Tiny(f"t{i}", "bench", i) for i in range(args.tasks)]
        start = time.perf_counter()
        raw = raw_chain(stages, tasks, args.batch_size)
        raw_s = time.perf_counter() - start
        assert len(raw) == args.tasks
        timings = {}
        variants = (("streaming (default, stages fused)", {}), ("streaming, fusion off", {"fuse_stages": False}))
        for label, config in variants:
            executor = RayActorPoolExecutor(config=config, show_progress=False)
            start = time.perf_counter()
            ours = executor.execute(stages, tasks)
            timings[label] = time.perf_counter() - start
            assert sorted(t.data for t in ours) == list(range(args.tasks))
        print(f"{args.tasks} tiny tasks x 3 no-op stages, batch size {args.batch_size}, 2 CPUs")
        print(f"raw ActorPool chain: {raw_s:.2f}s  {args.tasks / raw_s:,.0f} tasks/s")
        for label, seconds in timings.items():
            print(f"raycurator {label}: {seconds:.2f}s  {args.tasks / seconds:,.0f} tasks/s  "
                  f"ratio ours / raw {raw_s / seconds:.2f}")
        default = next(iter(timings.values()))
        print(f"ratio ours / raw (tasks/s), default config: {raw_s / default:.2f} (target >= 0.7)")
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
