"""A fake Ray layer for the scheduler tests (no tests here; the test_scheduler_*.py files import it).

It plays `PoolRuntime`'s part without Ray: object references are `Ref` values, actors become
ready when the test says so, and batches "run" when the test completes them with a
`BatchSummary` it builds. Every loop step checks the capacity invariants.

The folder's conftest.py puts this folder on `sys.path` (the tests run under
`--import-mode=importlib`), so test modules `import scheduler_driver as d`.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace

from raycurator.backends.failures import TaskFailure
from raycurator.backends.ray_actor_pool.scheduling.capacity import NodeCapacity
from raycurator.backends.ray_actor_pool.scheduling.items import Batch, BatchSummary, CallKind, Item, TaskMeta
from raycurator.backends.ray_actor_pool.scheduling.lineage import LineageTracker
from raycurator.backends.ray_actor_pool.scheduling.operators import StageSpec
from raycurator.backends.ray_actor_pool.scheduling.scheduler import (
    ActorRequest,
    SchedulerConfig,
    StreamingScheduler,
)

EPS = 1e-9


class FakeClock:
    """Injectable clock: time moves only when the test advances it."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass(frozen=True)
class Ref:
    """Stands for a Ray object reference."""

    name: str


class Stalled(AssertionError):
    """Nothing in flight, nothing starting, and the run is not done (PoolRuntime raises here)."""


def make_items(count: int, prefix: str = "t", nbytes: int = 0, rows: int = 10, dataset: str = "") -> list[Item]:
    return [
        Item(
            Ref(f"in-{prefix}{i}"),
            None,
            TaskMeta(
                f"{prefix}{i}",
                num_items=rows,
                nbytes=nbytes,
                source_files=(f"{prefix}{i}.jsonl",),
                dataset_name=dataset,
            ),
        )
        for i in range(count)
    ]


def out_meta(meta: TaskMeta, stage: str, suffix: str = "") -> TaskMeta:
    return replace(meta, task_id=f"{meta.task_id}>{stage}{suffix}")


def chain_ids(ids: list[str], stages: list[str]) -> set[str]:
    """Task ids after a 1:1 pass through `stages`."""
    return {i + "".join(f">{s}" for s in stages) for i in ids}


def failure(stage: str, task_id: str | list[str], message: str = "boom") -> TaskFailure:
    task_ids = [task_id] if isinstance(task_id, str) else task_id
    return TaskFailure(stage=stage, task_ids=task_ids, error_type="ValueError", message=message)


def balance_report(scheduler: StreamingScheduler) -> list[tuple]:
    return [
        (c.stage_name, c.tasks_in, c.tasks_attributed, c.tasks_filtered, c.tasks_failed, c.tasks_discarded)
        for c in scheduler.counters
    ]


def task_lineage() -> LineageTracker:
    """A lineage tracker keyed by task id (each item of `make_items` is its own source partition)."""
    return LineageTracker(set(), lambda item: item.meta.task_id)


def assert_balanced(scheduler: StreamingScheduler) -> None:
    assert all(c.balanced for c in scheduler.counters), balance_report(scheduler)


class Driver:
    """Drives a `StreamingScheduler` the way `PoolRuntime.run` does, with fake actors and calls."""

    def __init__(
        self,
        specs: list[StageSpec],
        nodes: list[NodeCapacity] | None = None,
        config: SchedulerConfig | None = None,
        seed: int = 0,
        lineage: LineageTracker | None = None,
        partitions_from_first_stage: bool = False,
        stamp_nodes: bool | None = None,
    ) -> None:
        """With `lineage`, the scheduler tracks source partitions (and can recompute lost data);
        `stamp_nodes` (default: with `lineage`) sets each completed call's `summary.node_id` to the
        node of the actor that ran it, as the real actors do."""
        self.clock = FakeClock()
        self.s = StreamingScheduler(
            specs,
            nodes or [NodeCapacity("n1", 2.0)],
            config,
            clock=self.clock,
            lineage=lineage,
            partitions_from_first_stage=partitions_from_first_stage,
        )
        self.stamp_nodes = lineage is not None if stamp_nodes is None else stamp_nodes
        self.names = [spec.name for spec in specs]
        self.rng = random.Random(seed)
        self.created: dict[str, ActorRequest] = {}
        self.starting: list[str] = []
        self.running: dict[int, Batch] = {}
        self.dispatched: list[Batch] = []
        self.stopped: list[str] = []
        self.killed: list[str] = []
        self.peak_busy: dict[str, float] = defaultdict(float)
        self.peak_running = 0
        self.snapshots: list[dict[str, int]] = []  # per step: stage name -> in-flight batches
        self.default_process_time = 0.2

    # -- the loop ----------------------------------------------------------------------------------
    def start(self, items: list[Item]) -> None:
        self.s.add_initial(items)

    def step(self) -> list[Batch]:
        """One iteration of PoolRuntime.run: stop finished (or retired) actors, dispatch batches, plan actors."""
        for actor_id in self.s.actors_to_stop():
            assert actor_id not in self.stopped, f"{actor_id} stopped twice"
            finished = self.s.operators[self.created[actor_id].stage_index].finished()
            assert finished or actor_id not in self.starting, "only idle, ready actors are retired early"
            assert not any(b.actor_id == actor_id for b in self.running.values()), "stopped with work in flight"
            self.stopped.append(actor_id)
            if actor_id in self.starting:
                self.starting.remove(actor_id)
        new = self.s.next_dispatches()
        for batch in new:
            actor = self.s.actors[batch.actor_id]
            assert actor.ready, f"batch {batch.batch_id} sent to an actor that is not ready"
            assert actor.stage_index == batch.stage_index
            assert batch.batch_id not in self.running
            self.running[batch.batch_id] = batch
            self.dispatched.append(batch)
        for request in self.s.plan_actors():
            assert request.actor_id not in self.created, "actor id reused"
            assert request.actor_id in self.s.actors
            self.created[request.actor_id] = request
            self.starting.append(request.actor_id)
        self.check()
        return new

    def check(self) -> None:
        """Capacity invariants: busy actors x cpus within each node; GPUs held within each node."""
        busy: dict[str, float] = defaultdict(float)
        gpus: dict[str, float] = defaultdict(float)
        for actor in self.s.actors.values():
            spec = self.s.specs[actor.stage_index]
            gpus[actor.node_id] += spec.gpus
            if actor.in_flight:
                busy[actor.node_id] += spec.cpus
        for node_id, node in self.s.nodes.items():
            assert busy[node_id] <= node.cpus + EPS, f"node {node_id}: {busy[node_id]} CPUs busy of {node.cpus}"
            assert abs(node.cpus_in_use - busy[node_id]) < 1e-6, (node_id, node.cpus_in_use, busy[node_id])
            assert gpus[node_id] <= node.gpus + EPS, f"node {node_id}: {gpus[node_id]} GPUs held of {node.gpus}"
            assert abs(node.gpus_held - gpus[node_id]) < 1e-6, (node_id, node.gpus_held, gpus[node_id])
            self.peak_busy[node_id] = max(self.peak_busy[node_id], busy[node_id])
        self.check_pool_indexes()
        self.peak_running = max(self.peak_running, len(self.running))
        per_stage: dict[str, int] = defaultdict(int)
        for batch in self.running.values():
            per_stage[self.names[batch.stage_index]] += 1
        self.snapshots.append(dict(per_stage))

    def check_pool_indexes(self) -> None:
        """The pool's indexes (idle actors per node, starting actors, nodes with free CPUs, actors per
        node) agree with a full scan of its actors and nodes."""
        pool = self.s.pool
        for index in range(len(self.s.specs)):
            actors = pool.stage_actors(index)
            ready = sum(1 for a in actors if a.ready)
            busy = sum(1 for a in actors if a.in_flight)
            assert pool.load(index) == (ready, busy), (index, pool.load(index), ready, busy)
            idle = {a.actor_id for a in actors if a.idle}
            indexed = {actor_id for on_node in pool._idle[index].values() for actor_id in on_node}
            assert indexed == idle, (index, indexed, idle)
            assert set(pool._starting[index]) == {a.actor_id for a in actors if not a.ready}
        free = {n.node_id for n in self.s.nodes.values() if n.free_cpus > EPS}
        assert set(pool._free) == free, (set(pool._free), free)
        per_node: dict[str, int] = defaultdict(int)
        for actor in self.s.actors.values():
            per_node[actor.node_id] += 1
        assert {n: c for n, c in pool._on_node.items() if c} == dict(per_node)

    # -- actors ------------------------------------------------------------------------------------
    def ready(self, actor_ids: list[str] | None = None) -> None:
        for actor_id in list(self.starting if actor_ids is None else actor_ids):
            self.starting.remove(actor_id)
            self.s.on_actor_ready(actor_id)

    def kill(self, actor_id: str) -> list[Batch]:
        """The actor died: its calls never return; the scheduler is told once."""
        for batch_id in [b for b, batch in self.running.items() if batch.actor_id == actor_id]:
            del self.running[batch_id]
        self.killed.append(actor_id)
        return self.s.on_actor_died(actor_id)

    def lose_node(self, node_id: str) -> list[str]:
        """The node left the cluster: its actors' calls never return, its starting actors never get ready."""
        on_node = {a for a, request in self.created.items() if request.node_id == node_id}
        for batch_id in [b for b, batch in self.running.items() if batch.actor_id in on_node]:
            del self.running[batch_id]
        self.starting = [a for a in self.starting if a not in on_node]
        gone = self.s.on_node_lost(node_id)
        self.killed.extend(gone)
        return gone

    def add_node(self, node: NodeCapacity) -> None:
        self.s.on_node_added(node)

    def node_of(self, batch: Batch) -> str:
        """The node of the actor a batch was sent to."""
        return self.created[batch.actor_id].node_id

    def stage_actor_ids(self, index: int) -> list[str]:
        return [a.actor_id for a in self.s.stage_actors(index)]

    # -- calls ---------------------------------------------------------------------------------------
    def running_of(self, index: int) -> list[Batch]:
        return [b for b in self.running.values() if b.stage_index == index]

    def default_summary(self, batch: Batch) -> tuple[list, BatchSummary]:
        """What a well-behaved stage returns: 1:1 maps, hash-ish shuffle pieces, one task per reduce."""
        name = self.names[batch.stage_index]
        rows_in = sum(i.meta.num_items for i in batch.items)
        if batch.call is CallKind.SHUFFLE_MAP:
            n = batch.kwargs["num_partitions"]
            rows = [0] * n
            for r in range(batch.items[0].meta.num_items):
                rows[(r * 7 + len(batch.items[0].meta.task_id)) % n] += 1
            refs = [Ref(f"piece-{batch.batch_id}-{p}") for p in range(n)]
            return refs, BatchSummary(
                rows_in=rows_in, rows_out=rows_in, partition_rows=rows, output_counts=[1], process_time=0.1
            )
        if batch.call is CallKind.SHUFFLE_REDUCE:
            p = batch.kwargs["partition_index"]
            meta = TaskMeta(f"{name}-partition-{p:05d}", num_items=rows_in)
            return [Ref(f"out-{batch.batch_id}")], BatchSummary(
                outputs=[meta], rows_in=rows_in, rows_out=rows_in, process_time=0.1
            )
        outputs = [out_meta(i.meta, name) for i in batch.items]
        summary = BatchSummary(
            outputs=outputs,
            output_counts=[1] * len(outputs),
            rows_in=rows_in,
            rows_out=rows_in,
            process_time=self.default_process_time,
        )
        return [Ref(f"out-{batch.batch_id}")], summary

    def complete(
        self, batch: Batch | int, summary: BatchSummary | None = None, refs: list | None = None, elapsed: float = 0.0
    ) -> None:
        batch_id = batch if isinstance(batch, int) else batch.batch_id
        batch = self.running.pop(batch_id)
        default_refs, default_summary = self.default_summary(batch)
        summary = summary or default_summary
        if self.stamp_nodes and not summary.node_id:
            summary = replace(summary, node_id=self.node_of(batch))
        chunk = batch.kwargs.get("chunk_size")
        if refs is None and chunk:  # a chunked (generator) call returns one object per chunk of outputs
            count = -(-len(summary.outputs) // chunk)
            refs = [f"chunk-{batch.batch_id}-{batch.attempts}-{i}" for i in range(count)]
        self.clock.advance(elapsed)
        self.s.on_batch_done(batch_id, default_refs if refs is None else refs, summary)

    def crash(self, batch: Batch, error_type: str = "ObjectLostError", message: str = "inputs lost") -> None:
        del self.running[batch.batch_id]
        self.s.on_batch_crashed(batch.batch_id, error_type, message, "Traceback: ...")

    def run(
        self,
        on_batch: Callable[[Driver, Batch], None] | None = None,
        max_steps: int = 20_000,
        complete_many: bool = False,
    ) -> None:
        """Loop until done: make starting actors ready, complete running batches in a random order."""
        handle = on_batch or (lambda driver, batch: driver.complete(batch))
        for _ in range(max_steps):
            self.step()
            if self.s.done:
                return
            if self.starting:
                self.ready()
                continue
            if not self.running:
                idle_rounds = getattr(self, "_idle_rounds", 0) + 1
                self._idle_rounds = idle_rounds
                if idle_rounds > 3:  # PoolRuntime allows a few rounds for stops and preemptions
                    raise Stalled(f"nothing in flight and not done: {self.s.snapshot()}")
                continue
            self._idle_rounds = 0
            batches = list(self.running.values())
            chosen = (
                self.rng.sample(batches, self.rng.randint(1, len(batches)))
                if complete_many
                else [self.rng.choice(batches)]
            )
            for batch in chosen:
                if batch.batch_id in self.running:
                    handle(self, batch)
        raise AssertionError("run did not finish")

    def drain_stops(self) -> None:
        """After the run: what PoolRuntime.shutdown would stop, checked through actors_to_stop."""
        self.step()
