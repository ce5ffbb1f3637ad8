"""StreamingScheduler without Ray: streaming through map stages, priority, backpressure, counters.

The fake Ray layer lives in test_scheduler_driver.py; the other test_scheduler_*.py files cover
capacity and pool sizes, barrier/shuffle operators, and failures.
"""

from __future__ import annotations

import pytest
import scheduler_driver as d

from raycurator.backends.ray_actor_pool.scheduling.capacity import NodeCapacity
from raycurator.backends.ray_actor_pool.scheduling.items import BatchSummary, TaskMeta
from raycurator.backends.ray_actor_pool.scheduling.operators import StageSpec
from raycurator.backends.ray_actor_pool.scheduling.scheduler import SchedulerConfig

THREE = [StageSpec("read", batch_size=2), StageSpec("clean", batch_size=3), StageSpec("score", batch_size=1)]


# -- streaming through map stages -------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_three_map_stages_deliver_every_item_and_balance(seed):
    drv = d.Driver(THREE, [NodeCapacity("n1", 4.0)], seed=seed)
    drv.start(d.make_items(20))
    drv.run(complete_many=bool(seed % 2))

    assert drv.s.done and drv.s.fatal is None and drv.s.skipped == []
    ids = [item.meta.task_id for item in drv.s.results]
    assert sorted(ids) == sorted(d.chain_ids([f"t{i}" for i in range(20)], ["read", "clean", "score"]))
    d.assert_balanced(drv.s)
    for counters in drv.s.counters:
        assert (counters.tasks_in, counters.tasks_out, counters.tasks_attributed) == (20, 20, 20)
        assert counters.tasks_filtered == counters.tasks_failed == counters.retries == 0
        assert counters.rows_in == counters.rows_out == 200
    assert [c.batches for c in drv.s.counters] == [10, 7, 20]
    assert {len(b.items) for b in drv.dispatched if b.stage_index == 1} == {3, 2}  # 6 x 3 + a last 2

    drv.drain_stops()
    assert sorted(drv.stopped) == sorted(drv.created), "every actor is stopped exactly once"
    assert drv.s.actors == {}
    assert all(n.cpus_in_use == 0 and n.gpus_held == 0 for n in drv.s.nodes.values())
    assert sum(c.actors_started for c in drv.s.counters) == len(drv.created)
    assert all(row["finished"] and row["queued"] == 0 and row["in_flight"] == 0 for row in drv.s.snapshot())


def test_results_are_references_only_and_keep_their_index():
    """A call returning several tasks gives one object: downstream items point into it by index."""
    drv = d.Driver([StageSpec("split", batch_size=2)])
    drv.start(d.make_items(2))
    drv.step()
    drv.ready()
    (batch,) = drv.step()
    outputs = [TaskMeta(f"o{i}") for i in range(3)]
    drv.complete(batch, BatchSummary(outputs=outputs, output_counts=[2, 1]), refs=[d.Ref("payload")])
    assert [(i.ref, i.index, i.meta.task_id) for i in drv.s.results] == [
        (d.Ref("payload"), 0, "o0"),
        (d.Ref("payload"), 1, "o1"),
        (d.Ref("payload"), 2, "o2"),
    ]
    counters = drv.s.counters[0]
    assert (counters.tasks_in, counters.tasks_out, counters.tasks_attributed, counters.tasks_filtered) == (2, 3, 2, 0)
    assert drv.s.done


def test_filter_and_split_counters_flow_downstream():
    specs = [StageSpec("filter", batch_size=4), StageSpec("split", batch_size=2), StageSpec("sink", batch_size=8)]
    drv = d.Driver(specs, [NodeCapacity("n1", 3.0)])

    def behave(driver, batch):
        name = driver.names[batch.stage_index]
        if name == "filter":  # keeps even-numbered tasks only
            counts = [int(int(i.meta.task_id.split(">")[0][1:]) % 2 == 0) for i in batch.items]
            outputs = [d.out_meta(i.meta, name) for i, c in zip(batch.items, counts, strict=True) if c]
            driver.complete(batch, BatchSummary(outputs=outputs, output_counts=counts))
        elif name == "split":  # every task becomes two
            outputs = [d.out_meta(i.meta, name, s) for i in batch.items for s in ("a", "b")]
            driver.complete(batch, BatchSummary(outputs=outputs, output_counts=[2] * len(batch.items)))
        else:
            driver.complete(batch)

    drv.start(d.make_items(10))
    drv.run(behave)
    counters = {c.stage_name: c for c in drv.s.counters}
    assert (counters["filter"].tasks_in, counters["filter"].tasks_out) == (10, 5)
    assert (counters["filter"].tasks_attributed, counters["filter"].tasks_filtered) == (5, 5)
    assert (counters["split"].tasks_in, counters["split"].tasks_out, counters["split"].tasks_attributed) == (5, 10, 5)
    assert (counters["sink"].tasks_in, counters["sink"].tasks_out) == (10, 10)
    d.assert_balanced(drv.s)
    assert len(drv.s.results) == 10
    assert {i.meta.task_id for i in drv.s.results} == {
        f"t{n}>filter>split{s}>sink" for n in range(0, 10, 2) for s in ("a", "b")
    }


def test_stages_overlap_and_early_stages_stop_first():
    drv = d.Driver(THREE, [NodeCapacity("n1", 4.0)])
    drv.start(d.make_items(30))
    overlapped = False
    stopped_early = False
    for _ in range(1000):
        drv.step()
        if drv.s.done:
            break
        running = {b.stage_index for b in drv.running.values()}
        overlapped |= {0, 2} <= running
        first_stage_actors = set(drv.created) & {a for a in drv.created if drv.created[a].stage_index == 0}
        stopped_early |= bool(first_stage_actors) and first_stage_actors <= set(drv.stopped) and not drv.s.done
        if drv.starting:
            drv.ready()
        else:
            drv.complete(min(drv.running))  # oldest call first
    assert drv.s.done
    assert overlapped, "the last stage never ran while the first one still had work in flight"
    assert stopped_early, "the first stage's actors were not stopped before the run ended"


def test_empty_input_is_done_without_actors():
    drv = d.Driver(THREE)
    drv.start([])
    assert drv.s.done
    assert drv.s.plan_actors() == [] and drv.s.next_dispatches() == []
    assert all(c.balanced and c.tasks_in == 0 for c in drv.s.counters)


def test_unknown_ids_are_ignored():
    drv = d.Driver(THREE)
    drv.start(d.make_items(1))
    drv.s.on_batch_done(10**9, [], BatchSummary())
    drv.s.on_batch_crashed(10**9, "X", "y", "")
    assert drv.s.on_actor_died("no-such-actor") == []
    assert drv.s.fatal is None and not drv.s.done
    drv.run()
    assert len(drv.s.results) == 1


def test_busy_and_idle_time_use_the_injected_clock():
    drv = d.Driver([StageSpec("only", batch_size=1)], [NodeCapacity("n1", 1.0)])
    drv.start(d.make_items(2))
    drv.step()
    drv.ready()
    drv.clock.advance(1.0)
    (batch,) = drv.step()
    assert batch.submitted_at == drv.clock.now
    drv.complete(batch, BatchSummary(outputs=[TaskMeta("a")], process_time=2.0), elapsed=2.5)
    (batch,) = drv.step()
    drv.complete(batch, BatchSummary(outputs=[TaskMeta("b")], process_time=3.0), elapsed=3.0)
    drv.clock.advance(0.5)
    drv.drain_stops()
    counters = drv.s.counters[0]
    assert counters.busy_s == pytest.approx(5.0)
    assert counters.idle_s == pytest.approx(1.0 + 2.5 + 3.0 + 0.5 - 5.0)
    assert counters.first_start == pytest.approx(101.0)
    assert counters.last_end == pytest.approx(106.5)


# -- priority and backpressure ----------------------------------------------------------------------
def test_downstream_stage_gets_the_free_slot_first():
    drv = d.Driver([StageSpec("up"), StageSpec("down")], [NodeCapacity("n1", 1.0)])
    drv.start(d.make_items(5))
    drv.step()
    drv.ready()
    (first,) = drv.step()
    assert first.stage_index == 0
    for _ in range(4):  # up's output is queued downstream while up still has inputs
        drv.complete(first)
        (first,) = drv.step()
        assert first.stage_index == 1, "the downstream stage must win the only CPU"
        drv.complete(first)
        (first,) = drv.step()
        assert first.stage_index == 0


def test_next_dispatches_orders_downstream_first_within_one_call():
    drv = d.Driver([StageSpec("a"), StageSpec("b"), StageSpec("c")], [NodeCapacity("n1", 2.0)])
    drv.start(d.make_items(6))
    drv.step()
    drv.ready()
    assert [b.stage_index for b in drv.step()] == [0]
    assert drv.step() == [] and len(drv.starting) == 1  # a second actor for a: a CPU is free, a has work
    drv.ready()
    assert [b.stage_index for b in drv.step()] == [0]
    for batch in list(drv.running.values()):
        drv.complete(batch)
    assert [b.stage_index for b in drv.step()] == [1, 0]
    for batch in list(drv.running.values()):
        drv.complete(batch)
    # now a, b and c all have queued work and an idle actor, and there are two CPUs
    assert [op.pending_work for op in drv.s.operators] == [3, 2, 1]
    assert [b.stage_index for b in drv.step()] == [2, 1], "the furthest-downstream stages get the CPUs"


@pytest.mark.parametrize("limit", [1, 3, 6])
def test_backpressure_blocks_upstream_until_downstream_drains(limit):
    cfg = SchedulerConfig(queue_limit_items=limit, pipeline_depth=1)
    drv = d.Driver([StageSpec("fast", max_workers=1), StageSpec("slow", max_workers=1)], [NodeCapacity("n1", 4.0)], cfg)
    drv.start(d.make_items(20))
    drv.step()
    drv.ready()
    drv.step()
    slow_busy = False
    for _ in range(200):  # complete fast batches only; the slow stage holds its first batch
        (fast,) = drv.running_of(0) or [None]
        if fast is None:
            break
        drv.complete(fast)
        drv.step()
        slow_busy |= bool(drv.running_of(1))
    down = drv.s.operators[1]
    assert slow_busy
    assert not drv.running_of(0), "the upstream stage stays blocked"
    assert down.pending_work == limit, "it stopped exactly at the limit"
    assert drv.s.plan_actors() == [], "a blocked stage is not scaled up either"
    assert drv.s.next_dispatches() == []

    (slow,) = drv.running_of(1)
    drv.complete(slow)
    drv.step()
    assert drv.running_of(0), "fast resumes once slow took from its queue"
    drv.run()
    assert len(drv.s.results) == 20
    assert drv.s.counters[1].max_queued <= limit
    d.assert_balanced(drv.s)


def test_backpressure_by_queued_bytes():
    cfg = SchedulerConfig(queue_limit_items=100, queue_limit_bytes=250, pipeline_depth=1)
    specs = [StageSpec("fast", max_workers=1), StageSpec("slow", max_workers=1)]
    drv = d.Driver(specs, [NodeCapacity("n1", 4.0)], cfg)
    drv.start(d.make_items(10, nbytes=100))
    drv.step()
    drv.ready()
    drv.step()
    while drv.running_of(0):
        drv.complete(drv.running_of(0)[0])
        drv.step()
    assert drv.s.operators[1].queued_bytes == 300  # 3 x 100 bytes reached 250 -> stop
    assert drv.s.operators[1].pending_work == 3
    drv.run()
    assert len(drv.s.results) == 10


def test_max_queued_stays_within_the_computed_bound():
    """Bound: upstream stops at `limit` queued downstream, plus what its in-flight calls still add.

    With queue_limit_items=L, an upstream stage of at most W actors x pipeline depth P, batch size B
    and 1:1 outputs: max_queued <= (L - 1) + W * P * B.
    """
    L, W, P, B = 5, 3, 2, 2
    cfg = SchedulerConfig(queue_limit_items=L, pipeline_depth=P, short_batch_s=10.0)
    specs = [StageSpec("fast", batch_size=B, max_workers=W), StageSpec("slow", batch_size=1, max_workers=1)]
    drv = d.Driver(specs, [NodeCapacity("n1", 8.0)], cfg, seed=7)
    drv.default_process_time = 0.01

    def slow_rarely(driver, batch):
        assert len(driver.running_of(0)) <= W * P
        if batch.stage_index == 1 and driver.rng.random() < 0.8:
            return  # the slow stage mostly keeps its batch
        driver.complete(batch)

    drv.start(d.make_items(60))
    drv.run(slow_rarely, complete_many=True)
    assert len(drv.s.results) == 60
    max_queued = drv.s.counters[1].max_queued
    assert max_queued > L, "the test should reach the limit"
    assert max_queued <= (L - 1) + W * P * B
    assert max(c.get("fast", 0) for c in drv.snapshots) == W * P, "every fast actor was pipelined"
    d.assert_balanced(drv.s)


def test_automatic_queue_limit_is_twice_what_the_downstream_pool_takes():
    cfg = SchedulerConfig(queue_limit_items=0, pipeline_depth=2)
    specs = [StageSpec("fast", batch_size=1, max_workers=1), StageSpec("slow", batch_size=3, max_workers=1)]
    drv = d.Driver(specs, [NodeCapacity("n1", 4.0)], cfg)
    drv.start(d.make_items(40))
    drv.step()
    drv.ready()
    drv.step()
    for _ in range(100):
        fast = drv.running_of(0)
        if not fast:
            break
        drv.complete(fast[0])
        drv.step()
        for slow in drv.running_of(1):  # slow never finishes: its actor holds its first batch
            assert len(slow.items) == 3
    # one slow actor: limit = max(4, 2 * batch_size 3 * 1 actor * depth 2) = 12 queued
    assert drv.s.operators[1].pending_work == 12
    assert len(drv.s.stage_actors(1)) == 1
