"""The driver at scale, by simulation: the streaming scheduler on a fake cluster (no Ray).

Drives `StreamingScheduler` the way `PoolRuntime` does (stop, dispatch, plan actors, then one
event) over a simulated cluster of N nodes x 64 CPUs with a Common Crawl-shaped workload: one
source partition per WARC file, four map stages (extract, language id, heuristic filters, write)
whose calls take a few simulated seconds with +-50% jitter, actors that take 2-6 s to start.
The simulated clock jumps to the next event; only the scheduler's own work is timed.

Workload: `--files-per-cpu` files per CPU (a Common Crawl snapshot is ~90,000 WARC files, about
1.4 per CPU of 1,000 nodes x 64 CPUs), and never fewer than the measured window needs to keep
the cluster busy. Each size runs in two phases:

- ramp: from the start until 90% of the CPUs run a call (the actors are created and start);
  its events are large (one `plan_actors` may create thousands of actors), so it is reported
  per decision (a call dispatched or an actor requested);
- steady: the next `--events` events with the cluster full, the driver's normal load; its
  decision time per event (mean, p99) is the figure compared across sizes.

Times are CPU seconds of the driver thread (`time.thread_time`), which other processes on a
shared machine inflate far less than wall time (cache contention still moves them by tens of
percent); wall-clock means are printed alongside.

`--lineage` tracks source partitions as a run with `checkpoint_dir` does (lineage of every
item, partitions finished).

Prints per size: actors, ramp (events, decisions, CPU s, us per decision), steady (mean and p99
ms per event, the events/s ceiling = 1 / mean, mean busy CPUs); then the driver memory per
queued item, per in-flight call and per actor (tracemalloc).

Exit status: 1 when the steady mean time per event at the largest size exceeds `--max-ratio`
(default 3.0) times the one at the smallest, i.e. when a decision grows clearly worse than
logarithmically with the cluster (10 -> 1,000 nodes is 100x the nodes; log growth of the
indexes' heaps gives about 1.5x).

    .venv/bin/python benchmarks/bench_scheduler_scale.py [--nodes 10 100 1000] [--events 20000]
"""

from __future__ import annotations

import argparse
import heapq
import random
import statistics
import sys
import time
import tracemalloc
from dataclasses import dataclass

from raycurator.backends.ray_actor_pool.scheduling.capacity import NodeCapacity
from raycurator.backends.ray_actor_pool.scheduling.items import BatchSummary, Item, TaskMeta
from raycurator.backends.ray_actor_pool.scheduling.lineage import LineageTracker
from raycurator.backends.ray_actor_pool.scheduling.operators import StageSpec
from raycurator.backends.ray_actor_pool.scheduling.scheduler import SchedulerConfig, StreamingScheduler

STAGES = [("extract", 4.0), ("langid", 1.0), ("filter", 1.0), ("write", 0.5)]  # name, mean seconds per call
CPUS_PER_NODE = 64
FULL = 0.9  # the ramp ends when this share of the CPUs runs a call


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Run:
    """Figures of one cluster size."""

    nodes: int
    cpus: int
    files: int
    actors: int = 0
    ramp_events: int = 0
    ramp_decisions: int = 0
    ramp_cpu_s: float = 0.0
    steady_events: int = 0
    mean_ms: float = 0.0
    p99_ms: float = 0.0
    wall_mean_ms: float = 0.0
    busy_cpus: float = 0.0
    simulated_s: float = 0.0

    @property
    def events_per_s(self) -> float:
        return 1e3 / self.mean_ms if self.mean_ms else float("inf")

    @property
    def ramp_us_per_decision(self) -> float:
        return 1e6 * self.ramp_cpu_s / max(1, self.ramp_decisions)


def _items(count: int) -> list[Item]:
    return [
        Item(f"ref-{i}", None, TaskMeta(f"warc-{i:06d}", 30_000, 0, (f"s3://cc/warc-{i:06d}.warc.gz",)))
        for i in range(count)
    ]


def simulate(nodes: int, files_per_cpu: float, events: int, seed: int = 0, lineage: bool = False) -> Run:
    """One cluster size; with `lineage`, partitions are tracked as in a run with checkpoints."""
    rng = random.Random(seed)
    clock = Clock()
    cpus = nodes * CPUS_PER_NODE
    # enough files for the ramp and the measured window (about one completed call per event)
    files = max(int(cpus * files_per_cpu), cpus + (events * 3) // len(STAGES))
    run = Run(nodes, cpus, files)
    specs = [StageSpec(name, batch_size=1) for name, _ in STAGES]
    cluster = [NodeCapacity(f"node-{i:05d}", float(CPUS_PER_NODE)) for i in range(nodes)]
    tracker = LineageTracker(set(), lambda item: item.meta.task_id) if lineage else None
    scheduler = StreamingScheduler(specs, cluster, SchedulerConfig(keep_results=False), clock=clock, lineage=tracker)
    scheduler.add_initial(_items(files))
    running: list[tuple[float, int]] = []  # (end time, batch id)
    starting: list[tuple[float, str]] = []  # (ready time, actor id)
    cpu_s: list[float] = []
    wall_s: list[float] = []
    busy: list[int] = []
    ramping = True
    while not scheduler.done and len(cpu_s) < events:
        c0, w0 = time.thread_time(), time.perf_counter()
        scheduler.actors_to_stop()
        dispatched = scheduler.next_dispatches()
        requests = scheduler.plan_actors()
        spent_cpu, spent_wall = time.thread_time() - c0, time.perf_counter() - w0
        for batch in dispatched:
            mean = STAGES[batch.stage_index][1]
            heapq.heappush(running, (clock.now + mean * rng.uniform(0.5, 1.5), batch.batch_id))
        for request in requests:
            heapq.heappush(starting, (clock.now + rng.uniform(2.0, 6.0), request.actor_id))
        if ramping and len(running) >= FULL * cpus:
            ramping = False
        # the next event: an actor ready or a call done, whichever comes first
        if starting and (not running or starting[0][0] <= running[0][0]):
            when, actor_id = heapq.heappop(starting)
            clock.now = max(clock.now, when)
            c0, w0 = time.thread_time(), time.perf_counter()
            if actor_id in scheduler.actors:
                scheduler.on_actor_ready(actor_id)
        elif running:
            when, batch_id = heapq.heappop(running)
            clock.now = max(clock.now, when)
            meta = scheduler.batches[batch_id].items[0].meta
            summary = BatchSummary(
                outputs=[TaskMeta(meta.task_id, meta.num_items)], output_counts=[1], process_time=1.0
            )
            c0, w0 = time.thread_time(), time.perf_counter()
            scheduler.on_batch_done(batch_id, [f"out-{batch_id}"], summary)
        else:
            raise RuntimeError("nothing running and nothing starting")
        spent_cpu += time.thread_time() - c0
        spent_wall += time.perf_counter() - w0
        if ramping:
            run.ramp_events += 1
            run.ramp_decisions += len(dispatched) + len(requests)
            run.ramp_cpu_s += spent_cpu
        else:
            cpu_s.append(spent_cpu)
            wall_s.append(spent_wall)
            busy.append(len(running))
    if not cpu_s:
        raise RuntimeError(f"{nodes} nodes: the cluster never got {FULL:.0%} busy; raise --files-per-cpu")
    ordered = sorted(cpu_s)
    run.actors = scheduler.actors_requested
    run.steady_events = len(cpu_s)
    run.mean_ms = statistics.fmean(cpu_s) * 1e3
    run.p99_ms = ordered[int(0.99 * (len(ordered) - 1))] * 1e3
    run.wall_mean_ms = statistics.fmean(wall_s) * 1e3
    run.busy_cpus = statistics.fmean(busy)
    run.simulated_s = clock.now
    return run


def memory_per_item(count: int = 5_000, lineage: bool = False) -> dict[str, float]:
    """Driver bytes per queued item (`Item` and `TaskMeta`), per actor (its state and index entries)
    and per call in flight (its `Batch` and bookkeeping, beyond the item it carries), by tracemalloc."""
    specs = [StageSpec("extract")]
    tracemalloc.start()
    tracker = LineageTracker(set(), lambda item: item.meta.task_id) if lineage else None
    config = SchedulerConfig(keep_results=False, max_actors_per_node_factor=1.0)
    scheduler = StreamingScheduler(specs, [NodeCapacity("n", float(count))], config, lineage=tracker)
    start = tracemalloc.get_traced_memory()[0]
    scheduler.add_initial(_items(count))
    queued = tracemalloc.get_traced_memory()[0]
    for request in scheduler.plan_actors():  # one actor; then one per queued item (free CPU slots)
        scheduler.on_actor_ready(request.actor_id)
    for request in scheduler.plan_actors():
        scheduler.on_actor_ready(request.actor_id)
    with_actors = tracemalloc.get_traced_memory()[0]
    dispatched = scheduler.next_dispatches()
    in_flight = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return {
        "queued_item": (queued - start) / count,
        "actor": (with_actors - queued) / max(1, scheduler.actors_requested),
        "in_flight_call": (in_flight - with_actors) / max(1, len(dispatched)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--files-per-cpu", type=float, default=1.5, help="source files per CPU (CC: ~90k files)")
    parser.add_argument("--events", type=int, default=20_000, help="events measured per size once the cluster is full")
    parser.add_argument("--memory-items", type=int, default=5_000, help="items queued to measure memory")
    parser.add_argument("--lineage", action="store_true", help="track partitions as runs with checkpoints do")
    parser.add_argument("--max-ratio", type=float, default=3.0, help="largest/smallest steady ms per event allowed")
    args = parser.parse_args(argv)
    print(
        f"{'nodes':>6} {'CPUs':>7} {'files':>7} {'actors':>7} | {'ramp ev':>8} {'decisions':>9} {'CPU s':>7} "
        f"{'us/dec':>7} | {'events':>7} {'mean ms':>8} {'p99 ms':>7} {'events/s':>9} {'wall ms':>8} {'busy':>6}"
    )
    runs = []
    for nodes in args.nodes:
        run = simulate(nodes, args.files_per_cpu, args.events, lineage=args.lineage)
        runs.append(run)
        print(
            f"{run.nodes:>6} {run.cpus:>7} {run.files:>7} {run.actors:>7} | {run.ramp_events:>8} "
            f"{run.ramp_decisions:>9} {run.ramp_cpu_s:>7.2f} {run.ramp_us_per_decision:>7.1f} | "
            f"{run.steady_events:>7} {run.mean_ms:>8.3f} {run.p99_ms:>7.3f} {run.events_per_s:>9.0f} "
            f"{run.wall_mean_ms:>8.3f} {run.busy_cpus / run.cpus:>6.0%}",
            flush=True,
        )
    memory = memory_per_item(args.memory_items, lineage=args.lineage)
    print(
        f"driver memory: {memory['queued_item']:.0f} bytes per queued item, {memory['in_flight_call']:.0f} more "
        f"per call in flight, {memory['actor']:.0f} per actor"
    )
    smallest = min(runs, key=lambda r: r.nodes)
    largest = max(runs, key=lambda r: r.nodes)
    ratio = largest.mean_ms / smallest.mean_ms
    verdict = "ok" if ratio <= args.max_ratio else "FAIL"
    print(
        f"steady ms per event, {largest.nodes} vs {smallest.nodes} nodes: {ratio:.2f}x "
        f"(bound {args.max_ratio:g}x): {verdict}"
    )
    return 0 if ratio <= args.max_ratio else 1


if __name__ == "__main__":
    sys.exit(main())
