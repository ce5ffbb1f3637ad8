"""StreamingScheduler without Ray: CPU/GPU capacity, pipelining, scale-up, stage-by-stage pool sizes."""

from __future__ import annotations

import pytest
import scheduler_driver as d

from raycurator.backends.ray_actor_pool.scheduling.capacity import NodeCapacity
from raycurator.backends.ray_actor_pool.scheduling.items import BatchSummary, TaskMeta
from raycurator.backends.ray_actor_pool.scheduling.operators import StageSpec
from raycurator.backends.ray_actor_pool.scheduling.scheduler import SchedulerConfig, StreamingScheduler
from raycurator.errors import InsufficientResourcesError

BY_STAGE = SchedulerConfig(mode="stage_by_stage")


# -- sharing CPUs between stages ----------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1])
def test_six_one_cpu_stages_complete_on_two_cpus(seed):
    names = [f"s{i}" for i in range(6)]
    drv = d.Driver([StageSpec(n) for n in names], [NodeCapacity("n1", 2.0)], seed=seed)
    drv.start(d.make_items(12))
    drv.step()
    assert sorted(r.stage_index for r in drv.created.values()) == list(range(6)), "one actor per stage up front"
    drv.run(complete_many=True)
    assert sorted(i.meta.task_id for i in drv.s.results) == sorted(d.chain_ids([f"t{i}" for i in range(12)], names))
    assert drv.peak_busy["n1"] == 2.0, "both CPUs were used"
    assert drv.peak_running <= 2, "never more than 2 batches at once on 2 CPUs"  # (Driver.check asserts <= cpus)
    d.assert_balanced(drv.s)


def test_mixed_cpu_requests_on_two_nodes_never_oversubscribe():
    specs = [StageSpec("wide", cpus=2.0), StageSpec("one", cpus=1.0, batch_size=2), StageSpec("half", cpus=0.5)]
    drv = d.Driver(specs, [NodeCapacity("n1", 3.0), NodeCapacity("n2", 2.0)], seed=5)
    drv.start(d.make_items(25))
    drv.run(complete_many=True)  # Driver.check asserts busy CPUs <= node CPUs after every step
    assert len(drv.s.results) == 25
    assert set(drv.peak_busy) == {"n1", "n2"} and drv.peak_busy["n1"] > 2.0
    d.assert_balanced(drv.s)


def test_a_batch_waits_for_a_free_cpu_even_with_an_idle_actor():
    drv = d.Driver([StageSpec("a"), StageSpec("b")], [NodeCapacity("n1", 1.0)])
    drv.start(d.make_items(3))
    drv.step()
    drv.ready()
    (a1,) = drv.step()
    drv.complete(a1)
    (b1,) = drv.step()  # b wins the CPU; a's actor is idle but must wait
    assert b1.stage_index == 1
    assert drv.s.actors[drv.stage_actor_ids(0)[0]].idle
    assert drv.step() == []
    assert drv.s.nodes["n1"].cpus_in_use == 1.0


# -- pipelining ------------------------------------------------------------------------------------------
def _one_actor_run(process_time, depth=2, short=0.05, count=8):
    cfg = SchedulerConfig(pipeline_depth=depth, short_batch_s=short)
    drv = d.Driver([StageSpec("only", max_workers=1)], [NodeCapacity("n1", 4.0)], cfg)
    drv.start(d.make_items(count))
    drv.step()
    drv.ready()
    per_step = [len(drv.step())]
    for _ in range(count):
        if not drv.running:
            break
        batch = min(drv.running)
        drv.complete(batch, BatchSummary(outputs=[TaskMeta(f"o{batch}")], process_time=process_time))
        per_step.append(len(drv.step()))
        (actor,) = drv.s.stage_actors(0) or [None]
        if actor is not None:
            assert len(actor.in_flight) <= depth
    return drv, per_step


def test_short_batches_are_pipelined_up_to_pipeline_depth():
    drv, per_step = _one_actor_run(process_time=0.01)
    assert per_step[:3] == [1, 2, 1], "no pipelining before a batch time is known; then 2 calls queued per actor"
    assert drv.s.nodes["n1"].cpus_in_use == 0.0
    assert len(drv.s.results) == 8


def test_long_batches_are_not_pipelined():
    drv, per_step = _one_actor_run(process_time=0.5)
    assert set(per_step) <= {0, 1}
    assert max(c.get("only", 0) for c in drv.snapshots) == 1


def test_pipelining_stops_once_batches_get_long():
    cfg = SchedulerConfig(pipeline_depth=2, short_batch_s=0.05)
    drv = d.Driver([StageSpec("only", max_workers=1)], [NodeCapacity("n1", 1.0)], cfg)
    drv.start(d.make_items(10))
    drv.step()
    drv.ready()
    (first,) = drv.step()
    drv.complete(first, BatchSummary(outputs=[TaskMeta("x")], process_time=0.01))
    assert len(drv.step()) == 2
    drv.complete(min(drv.running), BatchSummary(outputs=[TaskMeta("y")], process_time=1.0))
    assert drv.step() == [], "average now above short_batch_s: no call queued behind the running one"
    assert len(drv.running) == 1


def test_pipeline_depth_one_disables_pipelining():
    _, per_step = _one_actor_run(process_time=0.001, depth=1)
    assert set(per_step) <= {0, 1}


def test_pipelined_calls_hold_one_cpu_slot():
    cfg = SchedulerConfig(pipeline_depth=3, short_batch_s=1.0)
    drv = d.Driver([StageSpec("only", max_workers=1)], [NodeCapacity("n1", 1.0)], cfg)
    drv.start(d.make_items(10))
    drv.step()
    drv.ready()
    (first,) = drv.step()
    drv.complete(first, BatchSummary(outputs=[TaskMeta("x")], process_time=0.01))
    assert len(drv.step()) == 3
    assert drv.s.nodes["n1"].cpus_in_use == 1.0
    drv.complete(min(drv.running))
    assert drv.s.nodes["n1"].cpus_in_use == 1.0, "the actor still has calls queued"


# -- scale-up in streaming mode -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("cpus", "max_workers", "expected"), [(4.0, None, 4), (4.0, 2, 2), (3.0, None, 3), (1.0, 5, 1)]
)
def test_scale_up_fills_free_cpus_up_to_max_workers(cpus, max_workers, expected):
    cfg = SchedulerConfig(pipeline_depth=1)
    drv = d.Driver([StageSpec("work", max_workers=max_workers)], [NodeCapacity("n1", cpus)], cfg)
    drv.start(d.make_items(30))
    counts = []
    for _ in range(12):  # batches never finish: every actor stays busy
        drv.step()
        counts.append(len(drv.created))
        drv.ready()
    assert len(drv.created) == expected
    assert counts == sorted(counts) and counts[1] - counts[0] <= 1, "actors are added one at a time"
    assert len(drv.running) == expected
    assert drv.s.plan_actors() == []


def test_actors_start_in_parallel_up_to_the_ready_batches_and_free_slots():
    drv = d.Driver([StageSpec("work")], [NodeCapacity("n1", 4.0)])
    drv.start(d.make_items(30))
    drv.step()
    assert len(drv.created) == 4, "30 ready batches, 4 free CPU slots: four actors start at once"
    for _ in range(3):
        drv.step()  # none is ready yet; starting actors hold their slots
    assert len(drv.created) == 4
    drv.ready()
    assert len(drv.step()) == 4
    drv.step()
    assert len(drv.created) == 4, "no slot is left for a fifth"


def test_few_ready_batches_start_few_actors():
    drv = d.Driver([StageSpec("work", batch_size=10)], [NodeCapacity("n1", 4.0)])
    drv.start(d.make_items(15))  # two batches
    drv.step()
    assert len(drv.created) == 2


def test_scale_up_goes_to_the_stage_with_the_most_queued_work():
    cfg = SchedulerConfig(queue_limit_items=100)
    drv = d.Driver([StageSpec("a"), StageSpec("b")], [NodeCapacity("n1", 3.0)], cfg)
    drv.start(d.make_items(1))
    drv.step()
    assert [r.stage_index for r in drv.created.values()] == [0, 1]
    drv.ready()
    (a1,) = drv.step()
    split = [TaskMeta(f"a1-{i}") for i in range(6)]  # a's only batch gives b six tasks
    drv.complete(a1, BatchSummary(outputs=split, output_counts=[6], process_time=1.0))
    dispatched = drv.step()
    assert [b.stage_index for b in dispatched] == [1]
    # b is busy with five batches waiting; a has nothing: both free CPUs go to b
    assert [r.stage_index for r in drv.created.values()] == [0, 1, 1, 1]


def test_a_stage_whose_idle_actor_sits_on_a_full_node_uses_a_free_cpu_elsewhere():
    specs = [StageSpec("a"), StageSpec("b", max_workers=1), StageSpec("c", max_workers=1)]
    drv = d.Driver(specs, [NodeCapacity("n1", 1.0), NodeCapacity("n2", 1.0)])
    drv.start(d.make_items(6))
    drv.step()
    assert [(r.stage_index, r.node_id) for r in drv.created.values()] == [(0, "n1"), (1, "n2"), (2, "n1")]
    drv.ready()
    (a1,) = drv.step()
    drv.complete(a1)
    assert sorted(b.stage_index for b in drv.step()) == [0, 1]
    for batch in list(drv.running.values()):
        drv.complete(batch)
    assert sorted(b.stage_index for b in drv.step()) == [1, 2]
    drv.complete(drv.running_of(1)[0])
    # c runs on n1; n2 is free; a has 4 inputs queued but its only actor is on the full n1
    assert drv.s.operators[0].pending_work == 4 and drv.s.nodes["n2"].free_cpus == 1.0
    drv.step()
    drv.ready()
    drv.step()
    assert any(b.stage_index == 0 for b in drv.running.values()), "n2's free CPU stays unused while a waits"


# -- stage by stage -------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1])
def test_stage_by_stage_runs_one_stage_at_a_time(seed):
    specs = [StageSpec("a", batch_size=2), StageSpec("b"), StageSpec("c", batch_size=3)]
    drv = d.Driver(specs, [NodeCapacity("n1", 4.0)], BY_STAGE, seed=seed)
    drv.start(d.make_items(13))
    drv.run(complete_many=True)
    assert all(len(stages) <= 1 for stages in drv.snapshots), "two stages had batches in flight at once"
    dispatched_stages = [b.stage_index for b in drv.dispatched]
    assert dispatched_stages == sorted(dispatched_stages)
    created_stages = [r.stage_index for r in drv.created.values()]
    assert created_stages == sorted(created_stages) and created_stages.count(0) == 4
    assert len(drv.s.results) == 13
    d.assert_balanced(drv.s)
    drv.drain_stops()
    assert sorted(drv.stopped) == sorted(drv.created)


@pytest.mark.parametrize(
    ("node_cpus", "stage_cpus", "items", "batch_size", "max_workers", "expected"),
    [
        (8.0, 1.0, 3, 1, None, 3),  # capped by the number of batches
        (8.0, 1.0, 7, 3, None, 3),  # ceil(7 / 3) batches
        (8.0, 1.0, 20, 1, 5, 5),  # capped by num_workers
        (2.0, 1.0, 20, 1, None, 2),  # as many as fit
        (8.0, 3.0, 20, 1, None, 2),  # 3-CPU workers on 8 CPUs
        (1.0, 0.5, 20, 1, None, 2),  # fractional CPUs
        (8.0, 1.0, 1, 4, None, 1),  # at least one
        (1.0, 1.0, 1, 1, 0, 1),  # num_workers 0 means "no cap"; still one
    ],
)
def test_stage_by_stage_pool_size(node_cpus, stage_cpus, items, batch_size, max_workers, expected):
    spec = StageSpec("s", cpus=stage_cpus, batch_size=batch_size, max_workers=max_workers)
    drv = d.Driver([spec], [NodeCapacity("n1", node_cpus)], BY_STAGE)
    drv.start(d.make_items(items))
    drv.step()
    assert len(drv.created) == expected
    drv.run()
    assert len(drv.created) == expected, "no actor added later"
    assert len(drv.s.results) == items


def test_stage_by_stage_pool_of_a_later_stage_counts_its_own_batches():
    specs = [StageSpec("filter", batch_size=10), StageSpec("after")]
    drv = d.Driver(specs, [NodeCapacity("n1", 8.0)], BY_STAGE)
    drv.start(d.make_items(10))
    drv.step()
    drv.ready()
    (batch,) = drv.step()
    outputs = [TaskMeta("k1"), TaskMeta("k2")]
    drv.complete(batch, BatchSummary(outputs=outputs, output_counts=[1, 1] + [0] * 8))
    drv.step()
    assert [r.stage_index for r in drv.created.values()] == [0, 1, 1], "two batches left -> two actors"
    assert drv.stopped == [next(iter(drv.created))]


def test_stage_by_stage_spreads_actors_over_two_nodes():
    drv = d.Driver([StageSpec("s")], [NodeCapacity("n1", 2.0), NodeCapacity("n2", 2.0)], BY_STAGE)
    drv.start(d.make_items(10))
    drv.step()
    assert sorted(r.node_id for r in drv.created.values()) == ["n1", "n1", "n2", "n2"]
    drv.ready()
    assert len(drv.step()) == 4, "all four run at once, two per node"
    assert drv.s.nodes["n1"].cpus_in_use == drv.s.nodes["n2"].cpus_in_use == 2.0


def test_stage_by_stage_with_few_batches_still_uses_both_nodes():
    drv = d.Driver([StageSpec("s")], [NodeCapacity("n1", 4.0), NodeCapacity("n2", 4.0)], BY_STAGE)
    drv.start(d.make_items(2))
    drv.step()
    assert sorted(r.node_id for r in drv.created.values()) == ["n1", "n2"]


def test_stage_by_stage_gpu_pool_is_limited_by_gpus():
    spec = StageSpec("embed", cpus=1.0, gpus=1.0)
    drv = d.Driver([spec], [NodeCapacity("n1", 8.0, gpus=2.0)], BY_STAGE)
    drv.start(d.make_items(10))
    drv.step()
    assert len(drv.created) == 2
    assert drv.s.nodes["n1"].gpus_held == 2.0
    drv.run()
    drv.drain_stops()
    assert drv.s.nodes["n1"].gpus_held == 0.0


# -- resources that do not fit ---------------------------------------------------------------------------
def test_insufficient_cpus_names_the_stage_and_the_request():
    specs = [StageSpec("small"), StageSpec("huge", cpus=4.0)]
    with pytest.raises(InsufficientResourcesError) as info:
        StreamingScheduler(specs, [NodeCapacity("node-a", 2.0), NodeCapacity("node-b", 3.0)])
    message = str(info.value)
    assert "'huge'" in message and "'small'" not in message
    assert "4 CPU" in message
    assert "node-a: 2 CPU" in message and "node-b: 3 CPU" in message


def test_insufficient_gpus_names_the_stage_and_the_request():
    with pytest.raises(InsufficientResourcesError, match=r"'embed' asks for 1 CPU and 1 GPU") as info:
        StreamingScheduler([StageSpec("embed", gpus=1.0)], [NodeCapacity("cpu-only", 16.0)])
    assert "cpu-only: 16 CPU, 0 GPU" in str(info.value)


def test_a_request_spread_over_nodes_does_not_fit_either():
    with pytest.raises(InsufficientResourcesError, match="'embed'"):
        StreamingScheduler(
            [StageSpec("embed", gpus=2.0)], [NodeCapacity("a", 8.0, gpus=1.0), NodeCapacity("b", 8.0, gpus=1.0)]
        )


def test_no_node_at_all_is_an_error():
    with pytest.raises(InsufficientResourcesError):
        StreamingScheduler([StageSpec("s")], [])


def test_fractional_and_exact_requests_fit():
    StreamingScheduler([StageSpec("gpu", cpus=2.0, gpus=0.25)], [NodeCapacity("a", 2.0, gpus=0.25)])


# -- GPUs --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("gpus", "expected"), [(1.0, 2), (0.5, 4)])
def test_gpu_actors_hold_gpus_and_never_exceed_them(gpus, expected):
    cfg = SchedulerConfig(pipeline_depth=1)
    drv = d.Driver([StageSpec("embed", cpus=1.0, gpus=gpus)], [NodeCapacity("n1", 8.0, gpus=2.0)], cfg)
    drv.start(d.make_items(30))
    for _ in range(20):  # batches never finish: the stage scales up as far as GPUs allow
        drv.step()
        drv.ready()
    assert len(drv.created) == expected
    assert drv.s.nodes["n1"].gpus_held == pytest.approx(2.0)
    assert drv.s.plan_actors() == []
    drv.run()
    assert len(drv.s.results) == 30
    drv.drain_stops()
    assert drv.s.nodes["n1"].gpus_held == 0.0


def test_gpu_stage_goes_to_the_node_with_the_gpu():
    nodes = [NodeCapacity("cpu", 16.0), NodeCapacity("gpu", 4.0, gpus=1.0)]
    drv = d.Driver([StageSpec("read"), StageSpec("embed", gpus=1.0)], nodes)
    drv.start(d.make_items(5))
    drv.run()
    assert {r.node_id for r in drv.created.values() if r.stage_index == 1} == {"gpu"}
    assert len(drv.s.results) == 5


@pytest.mark.parametrize("mode", ["streaming", "stage_by_stage"])
def test_two_gpu_stages_take_turns_on_one_gpu(mode):
    specs = [StageSpec("g1", gpus=1.0), StageSpec("g2", gpus=1.0)]
    drv = d.Driver(specs, [NodeCapacity("n1", 4.0, gpus=1.0)], SchedulerConfig(mode=mode))
    drv.start(d.make_items(3))
    drv.run()  # raises Stalled the way PoolRuntime.run raises RuntimeError
    assert len(drv.s.results) == 3


def test_two_gpu_stages_on_one_gpu_with_more_items_than_the_queue_limit():
    specs = [StageSpec("g1", gpus=1.0), StageSpec("g2", gpus=1.0)]
    drv = d.Driver(specs, [NodeCapacity("n1", 4.0, gpus=1.0)])
    drv.start(d.make_items(20))
    drv.run()  # the idle upstream actor is retired so the downstream stage can drain
    assert len(drv.s.results) == 20
