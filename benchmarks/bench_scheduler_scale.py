"""The driver at scale, by simulation: the streaming scheduler on a fake cluster (no Ray).

Drives `StreamingScheduler` the way `PoolRuntime` does — stop, dispatch, plan actors, then one
event — over a simulated cluster of N nodes x 64 CPUs, with a Common Crawl-shaped workload:
a source partition per WARC file, four map stages (extract, language id, heuristic filters,
write) whose calls take a few simulated seconds with +-50% jitter. The simulated clock moves to
the next call's end; only the scheduler's own work is timed. A Common Crawl snapshot has about
90,000 WARC files; the workload is scaled to `--files-per-cpu` files per CPU so that every
cluster size runs the same per-CPU load, and each run stops after `--events` completed calls
once the cluster is full (the steady state is what matters for the driver).

Prints per cluster size: actors created, decision time per event (mean and p99, in ms), the
events/s ceiling (1 / mean decision time: the most calls per second one driver could keep up
with), and the driver memory per in-flight item (tracemalloc, bytes).

    .venv/bin/python benchmarks/bench_scheduler_scale.py [--nodes 10 100 1000] [--events 20000]
"""

from __future__ import annotations

import argparse
import heapq
import random
import statistics
import time
import tracemalloc

from raycurator.backends.ray_actor_pool.scheduling.capacity import NodeCapacity
from raycurator.backends.ray_actor_pool.scheduling.items import BatchSummary, Item, TaskMeta
from raycurator.backends.ray_actor_pool.scheduling.operators import StageSpec
from raycurator.backends.ray_actor_pool.scheduling.scheduler import SchedulerConfig, StreamingScheduler

STAGES = [("extract", 4.0), ("langid", 1.0), ("filter", 1.0), ("write", 0.5)]  # name, mean seconds per call
CPUS_PER_NODE = 64


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def simulate(nodes: int, files_per_cpu: float, events: int, seed: int = 0) -> dict[str, float]:
    rng = random.Random(seed)
    clock = Clock()
    specs = [StageSpec(name, batch_size=1) for name, _ in STAGES]
    cluster = [NodeCapacity(f"node-{i:05d}", float(CPUS_PER_NODE)) for i in range(nodes)]
    scheduler = StreamingScheduler(specs, cluster, SchedulerConfig(keep_results=False), clock=clock)
    files = int(nodes * CPUS_PER_NODE * files_per_cpu)
    items = [Item(f"ref-{i}", None, TaskMeta(f"warc-{i:06d}", num_items=30_000, nbytes=0)) for i in range(files)]
    running: list[tuple[float, int]] = []  # (end time, batch id)
    starting: list[tuple[float, str]] = []  # (ready time, actor id)
    decision_s: list[float] = []
    in_flight_peak = 0

    start = time.perf_counter()
    scheduler.add_initial(items)
    setup_s = time.perf_counter() - start
    completed = 0
    while not scheduler.done and completed < events:
        t0 = time.perf_counter()
        scheduler.actors_to_stop()
        dispatched = scheduler.next_dispatches()
        requests = scheduler.plan_actors()
        spent = time.perf_counter() - t0
        for batch in dispatched:
            mean = STAGES[batch.stage_index][1]
            heapq.heappush(running, (clock.now + mean * rng.uniform(0.5, 1.5), batch.batch_id))
        for request in requests:
            heapq.heappush(starting, (clock.now + rng.uniform(2.0, 6.0), request.actor_id))
        in_flight_peak = max(in_flight_peak, len(running))
        # the next event: an actor ready or a call done, whichever comes first
        if starting and (not running or starting[0][0] <= running[0][0]):
            when, actor_id = heapq.heappop(starting)
            clock.now = max(clock.now, when)
            t0 = time.perf_counter()
            if actor_id in scheduler.actors:
                scheduler.on_actor_ready(actor_id)
        elif running:
            when, batch_id = heapq.heappop(running)
            clock.now = max(clock.now, when)
            batch = scheduler.batches[batch_id]
            meta = batch.items[0].meta
            summary = BatchSummary(
                outputs=[TaskMeta(meta.task_id, meta.num_items, 0)], output_counts=[1], process_time=1.0
            )
            t0 = time.perf_counter()
            scheduler.on_batch_done(batch_id, [f"out-{batch_id}"], summary)
            completed += 1
        else:
            raise RuntimeError("nothing running and nothing starting")
        spent += time.perf_counter() - t0
        decision_s.append(spent)
    ordered = sorted(decision_s)
    mean = statistics.fmean(decision_s)
    return {
        "nodes": nodes,
        "cpus": nodes * CPUS_PER_NODE,
        "files": files,
        "actors": scheduler.actors_requested,
        "events": len(decision_s),
        "calls_done": completed,
        "peak_in_flight": in_flight_peak,
        "setup_s": setup_s,
        "mean_ms": mean * 1e3,
        "p99_ms": ordered[int(0.99 * (len(ordered) - 1))] * 1e3,
        "events_per_s": 1.0 / mean if mean else float("inf"),
        "simulated_s": clock.now,
    }


def memory_per_item(count: int = 50_000) -> float:
    """Driver bytes per queued item (an `Item` with its `TaskMeta`), measured with tracemalloc."""
    specs = [StageSpec(name) for name, _ in STAGES]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    scheduler = StreamingScheduler(specs, [NodeCapacity("n", 64.0)], SchedulerConfig(keep_results=False))
    items = [
        Item(f"ref-{i}", None, TaskMeta(f"warc-{i:06d}", 30_000, 0, (f"s3://cc/warc-{i:06d}.gz",)))
        for i in range(count)
    ]
    scheduler.add_initial(items)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--files-per-cpu", type=float, default=1.5, help="source files per CPU (CC: ~90k files)")
    parser.add_argument("--events", type=int, default=20_000, help="completed calls simulated per cluster size")
    args = parser.parse_args()
    print(f"driver memory per queued item: {memory_per_item():.0f} bytes")
    header = (
        f"{'nodes':>6} {'CPUs':>7} {'files':>7} {'actors':>7} {'calls':>7} {'mean ms':>8} {'p99 ms':>8} {'events/s':>9}"
    )
    print(header)
    for nodes in args.nodes:
        row = simulate(nodes, args.files_per_cpu, args.events)
        print(
            f"{row['nodes']:>6} {row['cpus']:>7} {row['files']:>7} {row['actors']:>7} {row['calls_done']:>7} "
            f"{row['mean_ms']:>8.3f} {row['p99_ms']:>8.3f} {row['events_per_s']:>9.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
