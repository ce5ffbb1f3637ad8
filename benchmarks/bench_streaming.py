"""Streaming vs stage-by-stage: 4 CPU-bound stages of equal cost on 2 CPUs.

Prints both wall times and the ratio streaming / stage-by-stage (target <= 0.75). Both runs
share one local Ray started up front, so Ray's start-up is not counted.

    .venv/bin/python benchmarks/bench_streaming.py [--tasks 16] [--seconds 0.25]
"""

from __future__ import annotations

import argparse
import time

import pyarrow as pa
import ray

from raycurator import DocumentBatch, ProcessingStage
from raycurator.backends.ray_actor_pool import RayActorPoolExecutor


class Burn(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Spins the CPU for a fixed time per task."""

    def __init__(self, name: str, seconds: float) -> None:
        self._name, self.seconds = name, seconds

    def process(self, task: DocumentBatch) -> DocumentBatch:
        end = time.process_time() + self.seconds
        x = 0
        while time.process_time() < end:
            x += 1
        return task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=0.25, help="CPU seconds per task per stage")
    args = parser.parse_args()
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
    try:
        stages = [Burn(f"burn{i}", args.seconds) for i in range(4)]
        tasks = [DocumentBatch(f"t{i}", "bench", pa.table({"x": [i]})) for i in range(args.tasks)]
        walls = {}
        for mode in ("stage_by_stage", "streaming"):
            executor = RayActorPoolExecutor(config={"mode": mode}, show_progress=False)
            start = time.perf_counter()
            outputs = executor.execute(stages, tasks)
            walls[mode] = time.perf_counter() - start
            assert len(outputs) == args.tasks
        ideal = 4 * args.tasks * args.seconds / 2
        print(f"work: 4 stages x {args.tasks} tasks x {args.seconds}s CPU on 2 CPUs (ideal {ideal:.1f}s)")
        print(f"stage_by_stage wall: {walls['stage_by_stage']:.2f}s")
        print(f"streaming wall:      {walls['streaming']:.2f}s")
        print(f"ratio streaming / stage_by_stage: {walls['streaming'] / walls['stage_by_stage']:.2f} (target <= 0.75)")
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
