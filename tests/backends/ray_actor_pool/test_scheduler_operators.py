"""StreamingScheduler without Ray: barrier and shuffle operators."""

from __future__ import annotations

import scheduler_driver as d

from raycurator.backends.ray_actor_pool.runtime import num_returns
from raycurator.backends.ray_actor_pool.scheduling.capacity import NodeCapacity
from raycurator.backends.ray_actor_pool.scheduling.items import BatchSummary, CallKind, TaskMeta
from raycurator.backends.ray_actor_pool.scheduling.operators import StageSpec
from raycurator.backends.ray_actor_pool.scheduling.scheduler import SchedulerConfig


# -- barrier ---------------------------------------------------------------------------------------------
def test_barrier_waits_for_upstream_then_sends_every_input_in_one_batch():
    specs = [StageSpec("read"), StageSpec("dedup", kind="barrier", batch_size=2), StageSpec("write")]
    drv = d.Driver(specs, [NodeCapacity("n1", 3.0)], seed=4)
    drv.start(d.make_items(7))
    seen_before_upstream_done = []

    def behave(driver, batch):
        if batch.stage_index == 1:
            kept = [d.out_meta(i.meta, "dedup") for i in batch.items[:4]]  # drops three duplicates
            driver.complete(batch, BatchSummary(outputs=kept, output_counts=[1] * 4 + [0] * 3))
            return
        driver.complete(batch)
        if not driver.s.operators[0].finished():
            seen_before_upstream_done.append(driver.s.operators[1].in_flight.copy())

    drv.run(behave, complete_many=True)
    barrier_batches = [b for b in drv.dispatched if b.stage_index == 1]
    assert len(barrier_batches) == 1 and len(barrier_batches[0].items) == 7
    assert barrier_batches[0].call is CallKind.RUN
    first_barrier = drv.dispatched.index(barrier_batches[0])
    assert all(b.stage_index == 0 for b in drv.dispatched[:first_barrier]) and first_barrier == 7
    assert all(not flight for flight in seen_before_upstream_done)
    assert sorted(i.meta.task_id for i in drv.s.results) == sorted(f"t{n}>read>dedup>write" for n in range(4))
    counters = drv.s.counters[1]
    assert (counters.tasks_in, counters.tasks_attributed, counters.tasks_filtered, counters.tasks_out) == (7, 4, 3, 4)
    d.assert_balanced(drv.s)


def test_upstream_of_a_barrier_is_never_backpressured():
    cfg = SchedulerConfig(queue_limit_items=2)
    specs = [StageSpec("read", max_workers=1), StageSpec("all", kind="barrier")]
    drv = d.Driver(specs, [NodeCapacity("n1", 2.0)], cfg)
    drv.start(d.make_items(12))
    drv.run()
    assert drv.s.counters[1].max_queued == 12
    assert len(drv.s.results) == 12


def test_barrier_in_stage_by_stage_mode_gets_one_actor():
    specs = [StageSpec("read"), StageSpec("all", kind="barrier")]
    drv = d.Driver(specs, [NodeCapacity("n1", 8.0)], SchedulerConfig(mode="stage_by_stage"))
    drv.start(d.make_items(6))
    drv.run()
    assert [r.stage_index for r in drv.created.values()].count(1) == 1
    assert len(drv.s.results) == 6


def test_barrier_batch_is_retried_whole_after_its_actor_died():
    specs = [StageSpec("all", kind="barrier", max_task_retries=1)]
    drv = d.Driver(specs, [NodeCapacity("n1", 2.0)])
    drv.start(d.make_items(5))
    drv.step()
    drv.ready()
    (batch,) = drv.step()
    assert drv.kill(batch.actor_id) == [batch]
    drv.step()
    drv.ready()
    (again,) = drv.step()
    assert again.batch_id == batch.batch_id and again.task_ids == [f"t{i}" for i in range(5)]
    drv.complete(again)
    assert drv.s.done and len(drv.s.results) == 5
    assert drv.s.counters[0].retries == 1 and drv.s.counters[0].actors_restarted == 1


# -- shuffle -----------------------------------------------------------------------------------------------
PARTITION_ROWS = {"t0>src": [2, 0, 1], "t1>src": [0, 0, 3], "t2>src": [1, 0, 0], "t3>src": [0, 0, 0]}


def _shuffle_by_table(driver, batch):
    if batch.call is CallKind.SHUFFLE_MAP:
        rows = PARTITION_ROWS[batch.items[0].meta.task_id]
        refs = [d.Ref(f"piece-{batch.items[0].meta.task_id}-{p}") for p in range(3)]
        summary = BatchSummary(rows_in=sum(rows), rows_out=sum(rows), partition_rows=rows, output_counts=[1])
        driver.complete(batch, summary, refs=refs)
    else:
        driver.complete(batch)


def test_shuffle_maps_every_input_then_reduces_each_non_empty_partition():
    specs = [StageSpec("src"), StageSpec("shuffle", kind="shuffle", num_partitions=3), StageSpec("after")]
    drv = d.Driver(specs, [NodeCapacity("n1", 4.0)], seed=2)
    drv.start(d.make_items(4, dataset="corpus"))
    drv.run(_shuffle_by_table, complete_many=True)

    shuffle_batches = [b for b in drv.dispatched if b.stage_index == 1]
    maps = [b for b in shuffle_batches if b.call is CallKind.SHUFFLE_MAP]
    reduces = [b for b in shuffle_batches if b.call is CallKind.SHUFFLE_REDUCE]
    assert len(maps) == 4 and len(reduces) == 2 and len(shuffle_batches) == 6
    assert shuffle_batches[:4] == maps, "every map is sent before any reduce"
    assert all(len(b.items) == 1 and num_returns(b) == 4 and b.kwargs == {"num_partitions": 3} for b in maps)
    assert sorted(b.task_ids[0] for b in maps) == sorted(PARTITION_ROWS)

    by_partition = {b.kwargs["partition_index"]: b for b in reduces}
    assert sorted(by_partition) == [0, 2], "partition 1 is empty: no call"
    assert all(num_returns(b) == 2 and b.kwargs["dataset_name"] == "corpus" for b in reduces)
    pieces = {p: sorted((i.ref.name, i.index, i.meta.num_items) for i in b.items) for p, b in by_partition.items()}
    assert pieces == {
        0: [("piece-t0>src-0", None, 2), ("piece-t2>src-0", None, 1)],
        2: [("piece-t0>src-2", None, 1), ("piece-t1>src-2", None, 3)],
    }
    assert sorted(i.meta.task_id for i in drv.s.results) == [
        "shuffle-partition-00000>after",
        "shuffle-partition-00002>after",
    ]
    counters = drv.s.counters[1]
    assert (counters.tasks_in, counters.tasks_attributed, counters.tasks_out) == (4, 4, 2)
    assert counters.rows_out == 7 and drv.s.counters[2].tasks_in == 2
    d.assert_balanced(drv.s)
    drv.drain_stops()
    assert sorted(drv.stopped) == sorted(drv.created)


def test_shuffle_without_num_partitions_uses_one_partition_per_input():
    drv = d.Driver([StageSpec("shuffle", kind="shuffle")], [NodeCapacity("n1", 2.0)])
    drv.start(d.make_items(5))
    drv.run()
    maps = [b for b in drv.dispatched if b.call is CallKind.SHUFFLE_MAP]
    assert {num_returns(b) for b in maps} == {6} and len(maps) == 5
    assert len(drv.s.results) == len([b for b in drv.dispatched if b.call is CallKind.SHUFFLE_REDUCE]) >= 1
    d.assert_balanced(drv.s)


def test_shuffle_waits_for_its_upstream():
    specs = [StageSpec("src", max_workers=1), StageSpec("shuffle", kind="shuffle", num_partitions=2)]
    drv = d.Driver(specs, [NodeCapacity("n1", 4.0)])
    drv.start(d.make_items(3))
    drv.step()
    drv.ready()
    for _ in range(2):
        (batch,) = drv.step()
        drv.complete(batch)
    assert drv.s.operators[1].pending_work == 2
    assert [b.stage_index for b in drv.step()] == [0], "no map before upstream is done"
    drv.run()
    assert len(drv.s.results) == 2


def test_shuffle_of_nothing_finishes_without_calls():
    specs = [StageSpec("drop_all"), StageSpec("shuffle", kind="shuffle", num_partitions=4)]
    drv = d.Driver(specs, [NodeCapacity("n1", 2.0)])
    drv.start(d.make_items(2))
    drv.run(lambda driver, batch: driver.complete(batch, BatchSummary(output_counts=[0] * len(batch.items))))
    assert drv.s.done and drv.s.results == []
    assert all(b.stage_index == 0 for b in drv.dispatched)
    d.assert_balanced(drv.s)


def test_shuffle_map_retried_after_actor_death_gives_the_clean_result():
    specs = [StageSpec("shuffle", kind="shuffle", num_partitions=3)]
    clean = d.Driver(specs, [NodeCapacity("n1", 1.0)])
    clean.start(d.make_items(4))
    clean.run()

    drv = d.Driver(specs, [NodeCapacity("n1", 1.0)])
    drv.start(d.make_items(4))
    drv.step()
    drv.ready()
    (first_map,) = drv.step()
    drv.kill(first_map.actor_id)
    drv.run()
    assert sorted((i.meta.task_id, i.meta.num_items) for i in drv.s.results) == sorted(
        (i.meta.task_id, i.meta.num_items) for i in clean.s.results
    )
    assert drv.s.counters[0].retries == 1
    d.assert_balanced(drv.s)


def test_shuffle_map_crash_with_skip_drops_that_input_and_reduces_the_rest():
    specs = [StageSpec("shuffle", kind="shuffle", num_partitions=3, on_error="skip")]
    drv = d.Driver(specs, [NodeCapacity("n1", 1.0)])
    drv.start(d.make_items(3))

    def behave(driver, batch):
        if batch.call is CallKind.SHUFFLE_MAP and batch.task_ids == ["t1"]:
            driver.crash(batch)
        else:
            driver.complete(batch)

    drv.run(behave)
    assert [f.task_ids for f in drv.s.skipped] == [["t1"]]
    reduced = [b for b in drv.dispatched if b.call is CallKind.SHUFFLE_REDUCE]
    assert reduced and all("t1" not in b.task_ids for b in reduced)
    assert drv.s.counters[0].tasks_failed == 1
    d.assert_balanced(drv.s)


def test_shuffle_map_error_with_skip_drops_that_input_and_reduces_the_rest():
    specs = [StageSpec("shuffle", kind="shuffle", num_partitions=2, on_error="skip")]
    drv = d.Driver(specs, [NodeCapacity("n1", 1.0)])
    drv.start(d.make_items(3))

    def behave(driver, batch):
        if batch.call is CallKind.SHUFFLE_MAP and batch.task_ids == ["t1"]:
            summary = BatchSummary(
                failures=[d.failure("shuffle", "t1")], failed_input_positions=[0], partition_rows=[0, 0]
            )
            driver.complete(batch, summary, refs=[None, None])
        else:
            driver.complete(batch)

    drv.run(behave)
    assert [f.task_ids for f in drv.s.skipped] == [["t1"]]
    assert len(drv.s.results) >= 1
    d.assert_balanced(drv.s)


def test_shuffle_reduce_error_with_skip_is_recorded_and_other_partitions_finish():
    specs = [StageSpec("shuffle", kind="shuffle", num_partitions=3, on_error="skip"), StageSpec("after")]
    drv = d.Driver(specs, [NodeCapacity("n1", 2.0)])
    drv.start(d.make_items(4))

    def behave(driver, batch):
        if batch.call is CallKind.SHUFFLE_REDUCE and batch.kwargs["partition_index"] == 1:
            fail = d.failure("shuffle", "shuffle-partition-00001")
            driver.complete(batch, BatchSummary(failures=[fail]))
        else:
            driver.complete(batch)

    drv.run(behave)
    assert [f.task_ids for f in drv.s.skipped] == [["shuffle-partition-00001"]]
    assert drv.s.skipped[0].attempts == 1
    assert sorted(i.meta.task_id for i in drv.s.results) == [
        "shuffle-partition-00000>after",
        "shuffle-partition-00002>after",
    ]
    d.assert_balanced(drv.s)


def test_shuffle_reduce_error_with_raise_is_fatal():
    specs = [StageSpec("shuffle", kind="shuffle", num_partitions=2)]
    drv = d.Driver(specs, [NodeCapacity("n1", 1.0)])
    drv.start(d.make_items(2))

    def behave(driver, batch):
        if batch.call is CallKind.SHUFFLE_REDUCE:
            driver.complete(batch, BatchSummary(failures=[d.failure("shuffle", "shuffle-partition-00000")]))
        else:
            driver.complete(batch)

    drv.run(behave)
    assert drv.s.fatal is not None and drv.s.fatal.task_ids == ["shuffle-partition-00000"]
    assert drv.s.done and drv.s.next_dispatches() == []


def test_shuffle_reduce_error_with_raise_keeps_the_counters_balanced():
    specs = [StageSpec("shuffle", kind="shuffle", num_partitions=2)]
    drv = d.Driver(specs, [NodeCapacity("n1", 1.0)])
    drv.start(d.make_items(2))

    def behave(driver, batch):
        if batch.call is CallKind.SHUFFLE_REDUCE:
            driver.complete(batch, BatchSummary(failures=[d.failure("shuffle", "shuffle-partition-00000")]))
        else:
            driver.complete(batch)

    drv.run(behave)
    assert drv.s.fatal is not None
    d.assert_balanced(drv.s)


def test_shuffle_reduces_run_in_parallel_on_idle_actors():
    specs = [StageSpec("shuffle", kind="shuffle", num_partitions=4)]
    drv = d.Driver(specs, [NodeCapacity("n1", 4.0)], SchedulerConfig(pipeline_depth=1))
    drv.start(d.make_items(4))
    for _ in range(10):  # maps never finish yet: the stage scales up to 4 actors
        drv.step()
        drv.ready()
    assert len(drv.created) == 4 and len(drv.running) == 4
    for batch in list(drv.running.values()):
        drv.complete(batch)
    reduces = drv.step()
    assert all(b.call is CallKind.SHUFFLE_REDUCE for b in reduces)
    assert len(reduces) == 4, f"{len(reduces)} reduce(s) sent to 4 idle actors"


def test_shuffle_pool_in_stage_by_stage_mode_covers_the_partitions():
    specs = [StageSpec("shuffle", kind="shuffle", num_partitions=3)]
    drv = d.Driver(specs, [NodeCapacity("n1", 8.0)], SchedulerConfig(mode="stage_by_stage"))
    drv.start(d.make_items(2))
    drv.step()
    assert len(drv.created) == 3  # max(2 inputs, 3 partitions)
    drv.run()
    assert len(drv.s.results) >= 1
    d.assert_balanced(drv.s)


def test_shuffle_reduce_output_meta_is_what_the_summary_says():
    specs = [StageSpec("shuffle", kind="shuffle", num_partitions=1)]
    drv = d.Driver(specs, [NodeCapacity("n1", 1.0)])
    drv.start(d.make_items(2))

    def behave(driver, batch):
        if batch.call is CallKind.SHUFFLE_REDUCE:
            meta = TaskMeta("merged", num_items=20, nbytes=123)
            driver.complete(batch, BatchSummary(outputs=[meta], rows_in=20, rows_out=20), refs=[d.Ref("merged")])
        else:
            driver.complete(batch)

    drv.run(behave)
    ((ref, index, meta),) = [(i.ref, i.index, i.meta) for i in drv.s.results]
    assert (ref, index, meta.task_id, meta.nbytes) == (d.Ref("merged"), 0, "merged", 123)
