"""The actor pool's indexes (KeyedMinHeap, NodeIndex) choose exactly what a full scan would.

The pool picks a node for each new actor, an actor for each batch and counts its spare actors
through indexes (O(log n) per decision) instead of scanning every node and actor. These tests
drive random runs on random clusters (CPU and GPU stages, fractional CPUs, pipelined short calls,
actor deaths, nodes leaving and joining) and compare every such decision, at the moment the
scheduler makes it, with a full scan over the scheduler's actors and nodes: the linear rule the
indexes replace.
"""

from __future__ import annotations

import random
from collections import defaultdict

import pytest
import scheduler_driver as d

from raycurator.backends.ray_actor_pool.scheduling.capacity import ActorState, NodeCapacity, fits, worker_slots
from raycurator.backends.ray_actor_pool.scheduling.items import BatchSummary
from raycurator.backends.ray_actor_pool.scheduling.keyed_heap import KeyedMinHeap
from raycurator.backends.ray_actor_pool.scheduling.operators import Operator, StageSpec
from raycurator.backends.ray_actor_pool.scheduling.pool import ActorPool
from raycurator.backends.ray_actor_pool.scheduling.scheduler import SchedulerConfig

EPS = 1e-9


# -- KeyedMinHeap ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(5))
def test_keyed_heap_first_is_the_smallest_live_key(seed):
    rng = random.Random(seed)
    heap: KeyedMinHeap[str] = KeyedMinHeap()
    truth: dict[str, tuple] = {}
    for _ in range(5_000):
        item = f"n{rng.randrange(60)}"
        if rng.random() < 0.25:
            heap.discard(item)
            truth.pop(item, None)
        else:
            key = (rng.randrange(5), rng.random() < 0.5, item)  # ties on the first fields are common
            heap.set(item, key)
            truth[item] = key
        expected = min(truth, key=truth.__getitem__) if truth else None
        assert heap.first() == expected
        assert len(heap) == len(truth) and all(heap.key(i) == k for i, k in truth.items())
        assert len(heap._heap) <= 2 * len(truth) + 64 + 1, "stale entries are compacted away"


def test_keyed_heap_updates_in_place_and_forgets():
    heap: KeyedMinHeap[str] = KeyedMinHeap()
    heap.set("a", (2, "a"))
    heap.set("b", (1, "b"))
    assert heap.first() == "b"
    heap.set("b", (3, "b"))  # b's key grew: a is first now
    assert heap.first() == "a"
    heap.discard("a")
    assert heap.first() == "b" and "a" not in heap and heap.key("a") is None
    heap.discard("b")
    heap.discard("b")
    assert heap.first() is None and len(heap) == 0


# -- the linear rules the indexes replace (computed from the actors and nodes alone) ---------------------
def _order(actor_id: str) -> int:
    return int(actor_id.rsplit("-", 1)[1])  # actor ids end with a counter: their creation order


def _has_slot(node: NodeCapacity, cpus: float) -> bool:
    return (cpus <= EPS or node.free_cpus > EPS) and node.free_cpus + EPS >= cpus


def scan_node_for(pool: ActorPool, op: Operator, need_free_slot: bool) -> str | None:
    spec = op.spec
    on_node: dict[str, int] = defaultdict(int)
    same_stage: dict[str, int] = defaultdict(int)
    claimed: dict[str, float] = defaultdict(float)
    for actor in pool.actors.values():
        on_node[actor.node_id] += 1
        same_stage[actor.node_id] += actor.stage_index == op.index
        if not actor.ready:
            claimed[actor.node_id] += pool.specs[actor.stage_index].cpus
    candidates = []
    for node in pool.nodes.values():
        if not fits(node, spec.cpus, spec.gpus) or node.free_gpus + EPS < spec.gpus:
            continue
        if need_free_slot and not (
            (spec.cpus <= EPS or node.free_cpus > EPS) and node.free_cpus - claimed[node.node_id] + EPS >= spec.cpus
        ):
            continue
        cap = int(pool.config.max_actors_per_node_factor * max(node.cpus, 1)) + len(pool.specs)
        if on_node[node.node_id] >= cap or same_stage[node.node_id] >= worker_slots(node, spec.cpus, spec.gpus):
            continue
        key = (same_stage[node.node_id] / max(node.cpus, EPS), on_node[node.node_id], -node.free_cpus, node.node_id)
        candidates.append(key)
    return min(candidates)[3] if candidates else None


def scan_pick_actor(pool: ActorPool, op: Operator) -> str | None:
    idle = [
        a
        for a in pool.actors.values()
        if a.stage_index == op.index
        and a.idle
        and a.node_id in pool.nodes
        and _has_slot(pool.nodes[a.node_id], op.spec.cpus)
    ]
    if idle:
        return min(idle, key=lambda a: (-pool.nodes[a.node_id].free_cpus, _order(a.actor_id))).actor_id
    depth = pool.config.pipeline_depth
    if depth <= 1 or op.avg_batch_s > pool.config.short_batch_s:
        return None
    busy = [a for a in pool.actors.values() if a.stage_index == op.index and a.ready and 0 < len(a.in_flight) < depth]
    return min(busy, key=lambda a: (len(a.in_flight), _order(a.actor_id))).actor_id if busy else None


def scan_spare(pool: ActorPool, op: Operator) -> int:
    mine = [a for a in pool.actors.values() if a.stage_index == op.index]
    starting = sum(1 for a in mine if not a.ready)
    idle = sum(1 for a in mine if a.idle and a.node_id in pool.nodes and _has_slot(pool.nodes[a.node_id], op.spec.cpus))
    return starting + idle


def scan_preempt(pool: ActorPool, op: Operator, chain, blocked) -> str | None:
    """The idle actor of another stage to retire so that `op` can place its first actor."""
    spec = op.spec
    candidates = []
    for actor in pool.actors.values():
        if actor.stage_index == op.index or not actor.idle or actor.actor_id in pool._retiring:
            continue
        node = pool.nodes[actor.node_id]
        freed = pool.specs[actor.stage_index].gpus
        if not fits(node, spec.cpus, spec.gpus) or node.free_gpus + freed + EPS < spec.gpus:
            continue
        other = chain[actor.stage_index]
        busy_elsewhere = other.has_ready_batch() and not blocked(other)
        candidates.append((busy_elsewhere, -len(pool.by_stage[actor.stage_index]), actor.actor_id))
    return min(candidates)[2] if candidates else None


def scan_slots(pool: ActorPool, index: int) -> int:
    spec = pool.specs[index]
    return sum(worker_slots(n, spec.cpus, spec.gpus) for n in pool.nodes.values() if fits(n, spec.cpus, spec.gpus))


class Checked:
    """Wraps the pool's decisions: each answer is compared with the full scan at the moment it is made."""

    def __init__(self, pool: ActorPool) -> None:
        self.pool = pool
        self.calls: dict[str, int] = defaultdict(int)
        self.found: dict[str, int] = defaultdict(int)
        node_for, pick_actor, spare = pool._node_for, pool.pick_actor, pool._spare

        def checked_node_for(op: Operator, need_free_slot: bool) -> NodeCapacity | None:
            node = node_for(op, need_free_slot)
            assert (node.node_id if node else None) == scan_node_for(pool, op, need_free_slot), (
                op.index,
                need_free_slot,
            )
            self._count("node_for", node)
            return node

        def checked_pick_actor(op: Operator) -> ActorState | None:
            actor = pick_actor(op)
            assert (actor.actor_id if actor else None) == scan_pick_actor(pool, op), op.index
            self._count("pick_actor", actor)
            return actor

        def checked_spare(op: Operator) -> int:
            count = spare(op)
            assert count == scan_spare(pool, op), op.index
            self._count("spare", count)
            for index in range(len(pool.specs)):
                assert pool._slots[index] == scan_slots(pool, index)
            return count

        preempt_for = pool._preempt_for

        def checked_preempt_for(op: Operator, chain, blocked) -> None:
            expected = scan_preempt(pool, op, chain, blocked)
            before = set(pool._retiring)
            preempt_for(op, chain, blocked)
            assert set(pool._retiring) - before == ({expected} if expected else set()), op.index
            self._count("preempt", expected)

        pool._preempt_for = checked_preempt_for  # type: ignore[method-assign]
        pool._node_for = checked_node_for  # type: ignore[method-assign]
        pool.pick_actor = checked_pick_actor  # type: ignore[method-assign]
        pool._spare = checked_spare  # type: ignore[method-assign]

    def _count(self, name: str, answer: object) -> None:
        self.calls[name] += 1
        self.found[name] += bool(answer)


# -- random runs on random clusters ----------------------------------------------------------------------
def random_specs(rng: random.Random, gpus: bool) -> list[StageSpec]:
    specs = []
    for i in range(rng.randint(2, 5)):
        cpus = rng.choice([1.0, 1.0, 0.5, 2.0, 0.0]) if i else 1.0
        gpu = rng.choice([0.0, 0.0, 1.0, 0.5]) if gpus and i else 0.0
        specs.append(
            StageSpec(
                f"s{i}",
                cpus=cpus if cpus or gpu else 1.0,
                gpus=gpu,
                batch_size=rng.choice([1, 1, 2, 3]),
                max_workers=rng.choice([None, None, 2, 5]),
                max_task_retries=5,
            )
        )
    return specs


def random_nodes(rng: random.Random, count: int, gpus: bool) -> list[NodeCapacity]:
    return [
        NodeCapacity(f"n{i:02d}", float(rng.choice([1, 2, 3, 4, 8])), float(rng.choice([0, 1, 2])) if gpus else 0.0)
        for i in range(count)
    ]


def random_run(seed: int, mode: str = "streaming", gpus: bool = False) -> Checked:
    rng = random.Random(seed)
    nodes = random_nodes(rng, rng.randint(2, 9), gpus)
    nodes.append(NodeCapacity("big", 8.0, 2.0 if gpus else 0.0))  # every stage fits somewhere, always
    config = SchedulerConfig(
        mode=mode, pipeline_depth=rng.choice([1, 2, 3]), max_actors_per_node_factor=rng.choice([0.5, 2.0])
    )
    drv = d.Driver(random_specs(rng, gpus), nodes, config, seed=seed)
    checked = Checked(drv.s.pool)
    drv.start(d.make_items(rng.randint(20, 60)))
    joined = 0
    for _ in range(3_000):
        drv.step()
        if drv.s.done:
            break
        roll = rng.random()
        if drv.starting and roll < 0.3:
            drv.ready(rng.sample(drv.starting, rng.randint(1, len(drv.starting))))
        elif drv.running and roll < 0.9:
            batch = rng.choice(list(drv.running.values()))
            _, summary = drv.default_summary(batch)
            short = rng.choice([0.01, 0.01, 0.5])  # short calls let busy actors take queued ones
            drv.complete(batch, BatchSummary(**{**summary.__dict__, "process_time": short}))
        elif roll < 0.94 and drv.s.actors:
            victim = rng.choice(sorted(drv.s.actors))
            if victim in drv.starting:  # died while starting: it never gets ready
                drv.starting.remove(victim)
            drv.kill(victim)
        elif roll < 0.96 and len(drv.s.nodes) > 1:
            drv.lose_node(rng.choice(sorted(n for n in drv.s.nodes if n != "big")))
        elif roll < 0.98:
            joined += 1
            cpus = float(rng.choice([1, 2, 4]))
            drv.add_node(NodeCapacity(f"j{joined:02d}", cpus, float(rng.choice([0, 1])) if gpus else 0.0))
        elif drv.starting:
            drv.ready()
    return checked


@pytest.mark.parametrize("seed", range(12))
def test_streaming_choices_equal_the_full_scan(seed):
    checked = random_run(seed)
    assert checked.found["node_for"] > 5 and checked.found["pick_actor"] > 5 and checked.found["spare"] > 0
    # the runs also reach states where no node has room and no actor can take a batch
    assert (
        checked.calls["node_for"] + checked.calls["pick_actor"]
        > checked.found["node_for"] + checked.found["pick_actor"]
    )


def test_gpu_clusters_choices_equal_the_full_scan():
    preemptions = 0
    for seed in range(100, 106):
        checked = random_run(seed, gpus=True)
        assert checked.found["node_for"] > 3 and checked.found["pick_actor"] > 3
        preemptions += checked.found["preempt"]
    assert preemptions, "some run had a stage whose first actor needed another stage's GPU"


@pytest.mark.parametrize("seed", range(6))
def test_stage_by_stage_choices_equal_the_full_scan(seed):
    checked = random_run(200 + seed, mode="stage_by_stage")
    assert checked.found["node_for"] > 3 and checked.found["pick_actor"] > 3


def test_pipelined_choice_takes_the_least_loaded_then_oldest_busy_actor():
    config = SchedulerConfig(pipeline_depth=3)
    drv = d.Driver([StageSpec("a", batch_size=1, max_workers=2)], [NodeCapacity("n1", 2.0)], config)
    Checked(drv.s.pool)
    drv.start(d.make_items(20))
    drv.step()
    drv.ready()
    drv.step()  # the first actor, then the run learns the calls are short
    first = next(iter(drv.running.values()))
    _, summary = drv.default_summary(first)
    drv.complete(first, BatchSummary(**{**summary.__dict__, "process_time": 0.001}))
    for _ in range(4):
        drv.step()
        drv.ready()
    per_actor: dict[str, int] = defaultdict(int)
    for batch in drv.running.values():
        per_actor[batch.actor_id] += 1
    assert sorted(per_actor.values()) == [3, 3], "two actors, each with a full pipeline of short calls"


# -- shuffles with many partitions ------------------------------------------------------------------------
def test_a_shuffle_with_thousands_of_empty_partitions_skips_them_without_recursion():
    """Reduce calls go only to partitions something hashed to; runs of thousands of empty partitions
    are skipped in a loop (they once cost one nested call each: a RecursionError past ~1,000)."""
    drv = d.Driver([StageSpec("shuffle", kind="shuffle", num_partitions=20_000)], [NodeCapacity("n1", 2.0)])
    drv.start(d.make_items(2, rows=3))
    drv.run(complete_many=True)
    reduces = [b for b in drv.dispatched if b.call.value == "shuffle_reduce"]
    expected = sorted({(r * 7 + len(f"t{i}")) % 20_000 for i in range(2) for r in range(3)})
    assert sorted(b.kwargs["partition_index"] for b in reduces) == expected
    assert len(drv.s.results) == len(expected)
    d.assert_balanced(drv.s)


# -- the scale benchmark ---------------------------------------------------------------------------------
def _bench():
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[3] / "benchmarks" / "bench_scheduler_scale.py"
    spec = importlib.util.spec_from_file_location("bench_scheduler_scale", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_scale_benchmark_fills_the_cluster_and_fails_past_its_bound(capsys):
    bench = _bench()
    run = bench.simulate(2, 1.5, 200, lineage=True)
    assert run.ramp_decisions >= run.cpus, "every CPU got an actor and a call during the ramp"
    assert run.steady_events == 200 and run.busy_cpus >= 0.85 * run.cpus
    assert run.mean_ms > 0 and run.p99_ms > 0 and run.events_per_s == pytest.approx(1e3 / run.mean_ms)
    small = ["--nodes", "1", "2", "--events", "100", "--memory-items", "200"]
    assert bench.main([*small, "--max-ratio", "1000"]) == 0
    assert bench.main([*small, "--max-ratio", "0.001"]) == 1
    assert "FAIL" in capsys.readouterr().out
