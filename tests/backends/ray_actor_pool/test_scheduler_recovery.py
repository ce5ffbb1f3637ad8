"""StreamingScheduler without Ray: lost nodes, lost objects, recomputation from source partitions."""

from __future__ import annotations

from collections import Counter

import pytest
import scheduler_driver as d

from raycurator.backends.ray_actor_pool.scheduling.capacity import NodeCapacity
from raycurator.backends.ray_actor_pool.scheduling.items import CallKind
from raycurator.backends.ray_actor_pool.scheduling.operators import StageSpec
from raycurator.backends.ray_actor_pool.scheduling.recovery import LOST_DATA_ERRORS, MAX_RECOMPUTES
from raycurator.backends.ray_actor_pool.scheduling.scheduler import SchedulerConfig

ABC = ["a", "b", "c"]


def _two_nodes():
    return [NodeCapacity("n1", 2.0), NodeCapacity("n2", 2.0)]


def _result_ids(drv):
    return Counter(i.meta.task_id for i in drv.s.results)


def _exactly_once(count, stages):
    """Each task id of a clean 1:1 run of `count` items through `stages`, once."""
    return Counter(d.chain_ids([f"t{i}" for i in range(count)], stages))


def _dispatches(drv, index, since=0):
    """Task ids sent to stage `index`, one entry per call (from dispatch number `since` on)."""
    return Counter(t for b in drv.dispatched[since:] if b.stage_index == index for t in b.task_ids)


def _lose_after(completions, node_id, mark):
    """A `Driver.run` handler: complete every batch; right after the `completions`-th, lose `node_id`."""

    def handle(driver, batch):
        driver.complete(batch)
        mark["done"] = mark.get("done", 0) + 1
        if mark["done"] == completions:
            mark["dispatched"] = len(driver.dispatched)
            mark["created"] = len(driver.created)
            mark["live_on_node"] = [i for i in _live_items(driver) if i.node_id == node_id]
            mark["started"] = [op.started for op in driver.s.operators]
            mark["gone"] = driver.lose_node(node_id)

    return handle


def _live_items(drv):
    return list(drv.s.recovery.live_items())


def _crash_first(match, error_type="ObjectLostError", every=False):
    """A `Driver.run` handler: crash the (first, or `every`) batch whose task ids satisfy `match`."""
    crashed = []

    def handle(driver, batch):
        if match(batch) and (every or not crashed):
            crashed.append(batch)
            driver.crash(batch, error_type)
        else:
            driver.complete(batch)

    return handle, crashed


def _holds(task_id, stage_index):
    return lambda batch: batch.stage_index == stage_index and task_id in batch.task_ids


# -- a node lost from a streaming map pipeline --------------------------------------------------------------
def test_clean_run_with_lineage_stamps_nodes_and_finishes_every_partition():
    drv = d.Driver([StageSpec(n) for n in ABC], _two_nodes(), lineage=d.task_lineage())
    drv.start(d.make_items(6))
    drv.run()
    assert _result_ids(drv) == _exactly_once(6, ABC)
    assert {i.node_id for i in drv.s.results} <= {"n1", "n2"} and all(i.node_id for i in drv.s.results)
    assert drv.s.recomputed_partitions == 0 and all(c.tasks_discarded == 0 for c in drv.s.counters)
    assert sorted(drv.s.lineage.finished) == [f"t{i}" for i in range(6)]
    d.assert_balanced(drv.s)


@pytest.mark.parametrize("seed", range(6))
def test_node_lost_mid_run_recomputes_its_data_and_loses_and_duplicates_nothing(seed):
    drv = d.Driver([StageSpec(n) for n in ABC], _two_nodes(), seed=seed, lineage=d.task_lineage())
    drv.start(d.make_items(12))
    mark = {}
    drv.run(_lose_after(10, "n2", mark))

    assert mark["live_on_node"], "the lost node held live data (the test exercises recovery)"
    assert drv.s.fatal is None and drv.s.skipped == []
    assert _result_ids(drv) == _exactly_once(12, ABC), "every task once: nothing lost, nothing twice"
    assert "n2" not in drv.s.nodes and all(a.node_id == "n1" for a in drv.s.actors.values())
    assert {drv.node_of(b) for b in drv.dispatched[mark["dispatched"] :]} == {"n1"}, "no batch goes to the lost node"
    assert {r.node_id for r in list(drv.created.values())[mark["created"] :]} <= {"n1"}, "no actor is placed there"
    on_n2 = {a for a, r in drv.created.items() if r.node_id == "n2"}
    assert mark["gone"] and set(mark["gone"]) <= on_n2
    assert on_n2 <= set(mark["gone"]) | set(drv.stopped), "every actor of n2 was stopped before, or died with it"
    assert not any(i.node_id == "n2" for i in drv.s.results), "results made on the lost node were made again"
    d.assert_balanced(drv.s)
    assert sum(c.tasks_discarded for c in drv.s.counters) > 0
    assert drv.s.recomputed_partitions > 0
    lost_roots = {k for i in mark["live_on_node"] for k in i.origins}
    assert drv.s.recomputed_partitions >= len(lost_roots)
    rerun = _dispatches(drv, 0, since=mark["dispatched"])
    assert set(rerun) >= lost_roots, "the lost partitions ran again from the first stage"
    assert drv.s.counters[0].tasks_in == 12 + drv.s.recomputed_partitions
    assert drv.s.counters[-1].tasks_out == 12 + drv.s.results_discarded, "outputs made = results + results dropped"
    assert drv.s.lineage.outstanding == {}
    assert set(drv.s.lineage.finished) == {f"t{i}" for i in range(12)}
    drv.drain_stops()
    assert sorted(drv.stopped + drv.killed) == sorted(drv.created)
    assert drv.s.nodes["n1"].cpus_in_use == 0.0


def test_results_made_on_a_lost_node_are_removed_and_made_again():
    drv = d.Driver([StageSpec("a")], [NodeCapacity("n1", 1.0), NodeCapacity("n2", 1.0)], lineage=d.task_lineage())
    drv.start(d.make_items(4))
    drv.step()
    drv.ready()
    first = drv.step()
    assert sorted(drv.node_of(b) for b in first) == ["n1", "n2"]
    for batch in first:
        drv.complete(batch)
    (on_n2,) = [b for b in first if drv.node_of(b) == "n2"]
    (kept,) = [b for b in first if drv.node_of(b) == "n1"]
    drv.lose_node("n2")
    assert [i.meta.task_id for i in drv.s.results] == [f"{kept.task_ids[0]}>a"]
    assert drv.s.recomputed_partitions == 1 and drv.s.results_discarded == 1
    assert drv.s.counters[0].tasks_in == 5
    drv.run()
    assert _result_ids(drv) == _exactly_once(4, ["a"])
    assert drv.s.counters[0].tasks_out == 5 and drv.s.results_discarded == 1
    assert _dispatches(drv, 0)[on_n2.task_ids[0]] == 2
    d.assert_balanced(drv.s)


def test_losing_a_node_without_live_data_recomputes_nothing():
    drv = d.Driver([StageSpec("a"), StageSpec("b")], _two_nodes(), lineage=d.task_lineage())
    drv.start(d.make_items(4))
    drv.step()
    on_n2 = [a for a, r in drv.created.items() if r.node_id == "n2"]
    assert on_n2, "some actor was placed on n2"
    assert drv.lose_node("n2") == on_n2, "its actors (still starting) are reported gone"
    assert drv.s.recomputed_partitions == 0 and drv.s.fatal is None
    assert drv.lose_node("n2") == [] and drv.lose_node("nope") == [], "unknown nodes are ignored"
    drv.run()
    assert _result_ids(drv) == _exactly_once(4, ["a", "b"])
    assert all(c.tasks_discarded == 0 for c in drv.s.counters)
    d.assert_balanced(drv.s)


# -- closure: partitions that share a batch or an object are recomputed together ---------------------------
def test_a_lost_item_recomputes_its_first_stage_batch_mate():
    specs = [StageSpec("a", batch_size=2), StageSpec("b")]
    drv = d.Driver(specs, [NodeCapacity("n1", 2.0)], lineage=d.task_lineage())
    drv.start(d.make_items(6))
    handle, crashed = _crash_first(_holds("t0>a", 1))
    drv.run(handle)
    assert len(crashed) == 1 and crashed[0].task_ids == ["t0>a"]
    assert drv.s.fatal is None and drv.s.skipped == []
    assert _result_ids(drv) == _exactly_once(6, ["a", "b"])
    assert drv.s.recomputed_partitions == 2
    assert _dispatches(drv, 0) == Counter({"t0": 2, "t1": 2, "t2": 1, "t3": 1, "t4": 1, "t5": 1})
    assert drv.s.counters[1].tasks_discarded >= 1
    d.assert_balanced(drv.s)


def _shared_batch_state():
    """Stage b's batch [t0>a, t1>a] runs on n2; t0>a was made on n1, t1>a on n2."""
    specs = [StageSpec("a", max_workers=2), StageSpec("b", batch_size=2, max_workers=1), StageSpec("c")]
    drv = d.Driver(specs, _two_nodes(), lineage=d.task_lineage())
    drv.start(d.make_items(6))
    drv.step()
    drv.ready()
    first = drv.step()
    assert [(b.task_ids, drv.node_of(b)) for b in first] == [(["t0"], "n1"), (["t1"], "n2")]
    for batch in first:
        drv.complete(batch)
    (shared,) = [b for b in drv.step() if b.stage_index == 1]
    assert shared.task_ids == ["t0>a", "t1>a"]
    assert [i.node_id for i in shared.items] == ["n1", "n2"] and drv.node_of(shared) == "n2"
    return drv, shared


def test_a_lost_item_recomputes_the_partitions_it_shares_a_batch_with():
    drv, shared = _shared_batch_state()
    before = len(drv.dispatched)
    drv.lose_node("n1")
    assert shared.void, "the shared batch's inputs were discarded with their partitions"
    assert drv.s.recomputed_partitions == 2, "t0 was lost; t1 shares the batch, so it runs again too"
    assert sorted(i.meta.task_id for i in drv.s.operators[0].queue) == ["t0", "t1", "t4", "t5"]
    assert drv.s.counters[0].tasks_in == 8, "only t0 and t1 enter again (t2's batch is a plain retry)"
    drv.run()
    assert _result_ids(drv) == _exactly_once(6, ABC)
    assert _dispatches(drv, 0, since=before)["t0"] == 1 and _dispatches(drv, 0, since=before)["t1"] == 1
    d.assert_balanced(drv.s)


# -- batches computed from discarded inputs -------------------------------------------------------------------
def test_a_void_batch_that_finishes_later_is_ignored():
    drv, shared = _shared_batch_state()
    drv.lose_node("n1")
    assert shared.void and shared.batch_id in drv.running, "it runs on n2, which survived"
    b, c = drv.s.counters[1], drv.s.counters[2]
    assert b.tasks_discarded == 2
    figures = (b.tasks_attributed, b.tasks_out, b.batches, c.tasks_in)
    drv.complete(shared)
    assert (b.tasks_attributed, b.tasks_out, b.batches, c.tasks_in) == figures, "its outputs are ignored"
    assert not any(i.meta.task_id.startswith(("t0>a>b", "t1>a>b")) for i in _live_items(drv))
    drv.run()
    assert _result_ids(drv) == _exactly_once(6, ABC)
    assert _dispatches(drv, 1)["t0>a"] == 2 and drv.s.counters[2].tasks_in == 6
    d.assert_balanced(drv.s)


def test_a_void_batch_whose_actor_dies_is_not_retried():
    drv, shared = _shared_batch_state()
    drv.lose_node("n1")
    retries = drv.s.counters[1].retries
    assert drv.kill(shared.actor_id) == []
    assert drv.s.counters[1].retries == retries
    assert all(shared not in op.retry_queue for op in drv.s.operators)
    drv.run()
    assert _result_ids(drv) == _exactly_once(6, ABC)
    d.assert_balanced(drv.s)


def test_a_void_batch_that_crashes_is_dropped_quietly():
    drv, shared = _shared_batch_state()
    drv.lose_node("n1")
    drv.crash(shared, "ObjectLostError")
    assert drv.s.fatal is None and drv.s.skipped == [] and drv.s.recomputed_partitions == 2
    drv.run()
    assert _result_ids(drv) == _exactly_once(6, ABC)
    d.assert_balanced(drv.s)


def test_the_inputs_of_a_void_batch_are_not_recomputed_twice():
    drv, shared = _shared_batch_state()  # runs on n2 with inputs made on n1 and n2
    drv.s.recover_lost(lambda item: item.meta.task_id == "t1>a", "t1>a is gone")
    assert shared.void and shared.batch_id in drv.running and drv.s.recovery.recomputes == {"t0": 1, "t1": 1}
    drv.s.recover_lost(lambda item: item.node_id == "n1", "objects made on n1 are gone")
    assert drv.s.recovery.recomputes["t0"] == 1 and drv.s.recovery.recomputes["t1"] == 1, (
        "their inputs were discarded already"
    )
    drv.run()
    assert drv.s.fatal is None and _result_ids(drv) == _exactly_once(6, ABC)
    d.assert_balanced(drv.s)


# -- calls that report lost input objects ----------------------------------------------------------------------
@pytest.mark.parametrize("error_type", sorted(LOST_DATA_ERRORS))
def test_lost_inputs_of_a_call_are_recomputed_with_lineage(error_type):
    drv = d.Driver([StageSpec(n) for n in ABC], _two_nodes(), seed=3, lineage=d.task_lineage())
    drv.start(d.make_items(8))
    handle, crashed = _crash_first(_holds("t3>a", 1), error_type)
    drv.run(handle)
    assert len(crashed) == 1
    assert drv.s.fatal is None and drv.s.skipped == []
    assert _result_ids(drv) == _exactly_once(8, ABC)
    assert drv.s.recomputed_partitions == 1
    assert _dispatches(drv, 0) == Counter({f"t{i}": 2 if i == 3 else 1 for i in range(8)})
    assert drv.s.counters[1].tasks_discarded == 1 and drv.s.counters[1].tasks_failed == 0
    d.assert_balanced(drv.s)


def test_lost_inputs_without_lineage_fail_the_run_with_the_original_error():
    drv = d.Driver([StageSpec(n) for n in ABC], _two_nodes(), seed=3)
    drv.start(d.make_items(8))
    handle, crashed = _crash_first(_holds("t3>a", 1))
    drv.run(handle)
    assert len(crashed) == 1
    fatal = drv.s.fatal
    assert fatal is not None and (fatal.stage, fatal.task_ids, fatal.error_type) == ("b", ["t3>a"], "ObjectLostError")
    assert drv.s.recomputed_partitions == 0 and drv.s.counters[1].tasks_discarded == 0


def test_other_crashes_with_lineage_still_fail_the_batch():
    drv = d.Driver([StageSpec(n) for n in ABC], _two_nodes(), seed=3, lineage=d.task_lineage())
    drv.start(d.make_items(8))
    handle, _ = _crash_first(_holds("t3>a", 1), "RuntimeError")
    drv.run(handle)
    assert drv.s.fatal is not None and drv.s.fatal.error_type == "RuntimeError"
    assert drv.s.recomputed_partitions == 0


# -- data that went into an all-inputs stage: that stage starts over with every partition it took in ----------
def _clean_results(specs, count):
    clean = d.Driver(specs, _two_nodes(), lineage=d.task_lineage())
    clean.start(d.make_items(count))
    clean.run()
    return sorted((i.meta.task_id, i.meta.num_items) for i in clean.s.results)


@pytest.mark.parametrize("kind", ["barrier", "shuffle"])
def test_losing_data_an_all_inputs_stage_took_in_restarts_it_with_every_partition(kind):
    specs = [StageSpec("a"), StageSpec("gather", kind=kind, num_partitions=2), StageSpec("c")]
    drv = d.Driver(specs, _two_nodes(), lineage=d.task_lineage())
    drv.start(d.make_items(6))
    lost = []

    def handle(driver, batch):
        if batch.stage_index == 1 and not lost:  # the all-inputs stage started: lose a node its data was on
            lost.append(next(i.node_id for i in batch.items if i.node_id))
            driver.lose_node(lost[0])
        elif batch.batch_id in driver.running:
            driver.complete(batch)

    drv.run(handle)
    assert lost and drv.s.fatal is None
    assert sorted((i.meta.task_id, i.meta.num_items) for i in drv.s.results) == _clean_results(specs, 6)
    rerun = {t for t, n in _dispatches(drv, 0).items() if n == 2}
    assert set(_dispatches(drv, 0).values()) <= {1, 2} and drv.s.recomputed_partitions == len(rerun) > 0
    if kind == "barrier":  # it took in every partition at once: all of them run again
        assert rerun == {f"t{i}" for i in range(6)}
    else:  # the maps it had made (and the inputs on the lost node) run again; queued inputs are mapped once
        maps = Counter(t for b in drv.dispatched if b.call is CallKind.SHUFFLE_MAP for t in b.task_ids)
        assert {t.split(">")[0] for t, n in maps.items() if n == 2} <= rerun
        assert set(maps) == {f"t{i}>a" for i in range(6)}
    assert not drv.s.operators[1].in_flight and drv.s.operators[1].finished()
    d.assert_balanced(drv.s)


def test_losing_the_output_of_a_barrier_runs_the_barrier_again():
    specs = [StageSpec("a"), StageSpec("gather", kind="barrier"), StageSpec("c", max_workers=1)]
    drv = d.Driver(specs, _two_nodes(), lineage=d.task_lineage())
    drv.start(d.make_items(4))
    lost = []

    def handle(driver, batch):
        if batch.stage_index == 2 and not lost:
            lost.append(batch.items[0].node_id)
            driver.lose_node(lost[0])
        elif batch.batch_id in driver.running:
            driver.complete(batch)

    drv.run(handle)
    assert drv.s.fatal is None and _result_ids(drv) == _exactly_once(4, ["a", "gather", "c"])
    gathers = [b for b in drv.dispatched if b.stage_index == 1]
    assert len(gathers) == 2 and all(sorted(b.task_ids) == [f"t{i}>a" for i in range(4)] for b in gathers)
    d.assert_balanced(drv.s)


@pytest.mark.parametrize("seed", range(3))
def test_losing_data_before_a_barrier_starts_is_recomputed(seed):
    specs = [StageSpec("a"), StageSpec("gather", kind="barrier"), StageSpec("c")]
    drv = d.Driver(specs, _two_nodes(), seed=seed, lineage=d.task_lineage())
    drv.start(d.make_items(8))
    mark = {}
    drv.run(_lose_after(4, "n2", mark))
    assert mark["live_on_node"] and mark["started"] == [False, False, False], "lost before the barrier started"
    assert drv.s.fatal is None
    assert _result_ids(drv) == _exactly_once(8, ["a", "gather", "c"])
    (gathered,) = [b for b in drv.dispatched if b.stage_index == 1]
    assert sorted(gathered.task_ids) == sorted(f"t{i}>a" for i in range(8)), "one barrier call with every input"
    assert drv.s.recomputed_partitions > 0
    d.assert_balanced(drv.s)


@pytest.mark.parametrize("seed", range(3))
def test_losing_data_before_a_shuffle_starts_gives_the_clean_result(seed):
    specs = [StageSpec("a"), StageSpec("gather", kind="shuffle", num_partitions=3), StageSpec("c")]
    clean = d.Driver(specs, _two_nodes(), seed=seed, lineage=d.task_lineage())
    clean.start(d.make_items(8))
    clean.run()
    drv = d.Driver(specs, _two_nodes(), seed=seed, lineage=d.task_lineage())
    drv.start(d.make_items(8))
    mark = {}
    drv.run(_lose_after(4, "n2", mark))
    assert mark["live_on_node"] and mark["started"] == [False, False, False]
    assert drv.s.fatal is None and drv.s.recomputed_partitions > 0
    assert sorted((i.meta.task_id, i.meta.num_items) for i in drv.s.results) == sorted(
        (i.meta.task_id, i.meta.num_items) for i in clean.s.results
    )
    maps = [b for b in drv.dispatched if b.call is CallKind.SHUFFLE_MAP]
    assert sorted(t for b in maps for t in b.task_ids) == sorted(f"t{i}>a" for i in range(8)), "each input mapped once"
    d.assert_balanced(drv.s)


def test_unmapped_shuffle_inputs_lost_after_the_shuffle_started_are_recomputed():
    specs = [StageSpec("a"), StageSpec("gather", kind="shuffle", num_partitions=3, max_workers=1), StageSpec("c")]
    clean = d.Driver(specs, _two_nodes(), lineage=d.task_lineage())
    clean.start(d.make_items(8))
    clean.run()
    drv = d.Driver(specs, _two_nodes(), lineage=d.task_lineage())
    drv.start(d.make_items(8))
    mark = {}

    def handle(driver, batch):
        if batch.call is CallKind.SHUFFLE_MAP and not mark:  # the first map runs on n2, with an input made on n2
            assert driver.node_of(batch) == batch.items[0].node_id == "n2"
            queued = driver.s.operators[1].queue
            mark["unmapped_on_n1"] = sorted(i.meta.task_id for i in queued if i.node_id == "n1")
            driver.lose_node("n1")
        driver.complete(batch)

    drv.run(handle)
    assert mark["unmapped_on_n1"] and drv.s.fatal is None
    assert drv.s.recomputed_partitions == len(mark["unmapped_on_n1"])
    assert sorted((i.meta.task_id, i.meta.num_items) for i in drv.s.results) == sorted(
        (i.meta.task_id, i.meta.num_items) for i in clean.s.results
    )
    maps = [t for b in drv.dispatched if b.call is CallKind.SHUFFLE_MAP for t in b.task_ids]
    assert sorted(maps) == sorted(f"t{i}>a" for i in range(8)), "each input mapped once"
    d.assert_balanced(drv.s)


@pytest.mark.parametrize("error_type", ["ObjectLostError", "OwnerDiedError"])
def test_lost_inputs_behind_a_barrier_rerun_the_barrier_and_lose_nothing(error_type):
    specs = [StageSpec("a"), StageSpec("gather", kind="barrier"), StageSpec("c")]
    drv = d.Driver(specs, _two_nodes(), lineage=d.task_lineage())
    drv.start(d.make_items(5))
    handle, crashed = _crash_first(_holds("t2>a>gather", 2), error_type)
    drv.run(handle)
    assert len(crashed) == 1 and drv.s.fatal is None and drv.s.skipped == []
    assert _result_ids(drv) == _exactly_once(5, ["a", "gather", "c"])
    assert drv.s.recomputed_partitions == 5 and len([b for b in drv.dispatched if b.stage_index == 1]) == 2
    assert set(drv.s.lineage.finished) == {f"t{i}" for i in range(5)}
    d.assert_balanced(drv.s)


def test_a_lost_barrier_input_whose_source_is_gone_is_data_lost_naming_why():
    specs = [StageSpec("a"), StageSpec("gather", kind="barrier"), StageSpec("c", on_error="skip")]
    drv = d.Driver(specs, _two_nodes(), lineage=d.task_lineage())
    drv.start(d.make_items(3))
    drv.s.lineage.sources.pop("t1")  # as if t1's source had been released
    handle, _ = _crash_first(_holds("t0>a>gather", 2))
    drv.run(handle)
    (skipped,) = drv.s.skipped
    assert (skipped.stage, skipped.error_type) == ("c", "DataLostError")
    assert "ObjectLostError" in skipped.message and "'t1'" in skipped.message and "no longer kept" in skipped.message
    d.assert_balanced(drv.s)


# -- how often a partition may be recomputed ----------------------------------------------------------------------
@pytest.mark.parametrize("on_error", ["raise", "skip"])
def test_a_partition_lost_more_than_max_recomputes_times_is_data_lost(on_error):
    specs = [StageSpec("a"), StageSpec("b", on_error=on_error)]
    drv = d.Driver(specs, [NodeCapacity("n1", 2.0)], lineage=d.task_lineage())
    drv.start(d.make_items(3))
    handle, crashed = _crash_first(_holds("t0>a", 1), every=True)
    drv.run(handle)
    assert len(crashed) == MAX_RECOMPUTES + 1
    assert drv.s.recomputed_partitions == MAX_RECOMPUTES
    assert _dispatches(drv, 0)["t0"] == MAX_RECOMPUTES + 1
    failure = drv.s.fatal if on_error == "raise" else drv.s.skipped[0]
    assert failure is not None and (failure.task_ids, failure.error_type) == (["t0>a"], "DataLostError")
    assert f"already recomputed {MAX_RECOMPUTES} times" in failure.message
    if on_error == "skip":
        assert drv.s.fatal is None and len(drv.s.skipped) == 1
        assert _result_ids(drv) == Counter({"t1>a>b": 1, "t2>a>b": 1})
        d.assert_balanced(drv.s)


def test_a_partition_lost_with_node_after_node_gives_up_after_max_recomputes():
    drv = d.Driver([StageSpec("a"), StageSpec("b")], [NodeCapacity("x0", 2.0)], lineage=d.task_lineage())
    drv.start(d.make_items(1))
    swaps = []

    def handle(driver, batch):  # every time t0's first-stage output exists, its node is replaced by a new one
        driver.complete(batch)
        if batch.stage_index == 0:
            old = f"x{len(swaps)}"
            swaps.append(old)
            driver.add_node(NodeCapacity(f"x{len(swaps)}", 2.0))
            driver.lose_node(old)

    drv.run(handle)
    assert len(swaps) == MAX_RECOMPUTES + 1
    assert drv.s.recomputed_partitions == MAX_RECOMPUTES
    fatal = drv.s.fatal
    assert fatal is not None and (fatal.stage, fatal.task_ids, fatal.error_type) == (
        "a",
        ["(node lost)"],
        "DataLostError",
    )
    assert f"node {swaps[-1]} left the cluster" in fatal.message
    assert f"already recomputed {MAX_RECOMPUTES} times" in fatal.message


# -- capacity after a loss, new nodes -----------------------------------------------------------------------------
def test_losing_the_only_gpu_node_fails_the_gpu_stage_for_lack_of_resources():
    specs = [StageSpec("read"), StageSpec("embed", gpus=1.0)]
    drv = d.Driver(specs, [NodeCapacity("n1", 2.0), NodeCapacity("g1", 2.0, gpus=1.0)], lineage=d.task_lineage())
    drv.start(d.make_items(6))
    drv.run(_lose_after(3, "g1", {}))
    fatal = drv.s.fatal
    assert fatal is not None and (fatal.stage, fatal.error_type) == ("embed", "InsufficientResourcesError")
    assert "node g1 left the cluster" in fatal.message and "1 GPU" in fatal.message
    assert drv.s.done and drv.s.next_dispatches() == [] and drv.s.plan_actors() == []


def test_a_gpu_node_added_before_the_only_one_is_lost_takes_over():
    specs = [StageSpec("read"), StageSpec("embed", gpus=1.0)]
    drv = d.Driver(specs, [NodeCapacity("n1", 2.0), NodeCapacity("g1", 2.0, gpus=1.0)], lineage=d.task_lineage())
    drv.start(d.make_items(6))
    mark = {}

    def handle(driver, batch):
        driver.complete(batch)
        if len(driver.dispatched) >= 4 and not mark:
            driver.add_node(NodeCapacity("g2", 1.0, gpus=1.0))
            mark["dispatched"] = len(driver.dispatched)
            driver.lose_node("g1")

    drv.run(handle)
    assert drv.s.fatal is None
    assert _result_ids(drv) == _exactly_once(6, ["read", "embed"])
    after = [b for b in drv.dispatched[mark["dispatched"] :] if b.stage_index == 1]
    assert after and {drv.node_of(b) for b in after} == {"g2"}
    d.assert_balanced(drv.s)


def test_an_added_node_gets_actors_and_batches():
    drv = d.Driver([StageSpec("a")], [NodeCapacity("n1", 1.0)], lineage=d.task_lineage())
    drv.start(d.make_items(8))
    drv.step()
    drv.ready()
    drv.step()
    assert {r.node_id for r in drv.created.values()} == {"n1"}
    drv.add_node(NodeCapacity("n2", 2.0))
    drv.add_node(NodeCapacity("n1", 8.0))  # a node already known keeps its capacity
    assert drv.s.nodes["n1"].cpus == 1.0 and drv.s.nodes["n2"].cpus == 2.0
    drv.run()
    assert any(r.node_id == "n2" for r in drv.created.values())
    assert any(drv.node_of(b) == "n2" for b in drv.dispatched)
    assert drv.peak_busy["n2"] > 1.0, "the new node ran batches in parallel"
    assert _result_ids(drv) == _exactly_once(8, ["a"])
    d.assert_balanced(drv.s)


# -- results not kept, stage-by-stage mode, partitions made by the first stage -------------------------------------
@pytest.mark.parametrize("lose", [False, True])
def test_results_not_kept_are_counted_and_balanced(lose):
    config = SchedulerConfig(keep_results=False)
    drv = d.Driver([StageSpec(n) for n in ABC], _two_nodes(), config, seed=1, lineage=d.task_lineage())
    drv.start(d.make_items(12))
    mark = {}
    drv.run(_lose_after(10, "n2", mark) if lose else None)
    assert drv.s.fatal is None and drv.s.results == []
    last = drv.s.counters[-1]
    assert last.tasks_out == last.tasks_attributed == 12, "each partition passed the last stage once"
    assert (drv.s.recomputed_partitions > 0) == lose
    assert drv.s.lineage.keep_finished_sources is False and drv.s.lineage.sources == {}
    assert set(drv.s.lineage.finished) == {f"t{i}" for i in range(12)}
    d.assert_balanced(drv.s)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("stage", [1, 2])
def test_stage_by_stage_node_loss_recomputes_from_the_first_stage(stage, seed):
    config = SchedulerConfig(mode="stage_by_stage")
    drv = d.Driver([StageSpec(n) for n in ABC], _two_nodes(), config, seed=seed, lineage=d.task_lineage())
    drv.start(d.make_items(8))
    mark = {}

    def handle(driver, batch):
        driver.complete(batch)
        if batch.stage_index == stage and not mark:
            mark["dispatched"] = len(driver.dispatched)
            driver.lose_node("n2")

    drv.run(handle)
    assert drv.s.fatal is None
    assert _result_ids(drv) == _exactly_once(8, ABC)
    after = [b.stage_index for b in drv.dispatched[mark["dispatched"] :]]
    assert after[0] == 0 and after == sorted(after), "stage by stage again, from the first stage"
    assert drv.s.recomputed_partitions > 0 and _dispatches(drv, 0, since=mark["dispatched"])
    d.assert_balanced(drv.s)


def _first_stage_partitions_state():
    """Partitions made by the first stage ('read', one actor on n1); later stages run on both nodes."""
    specs = [StageSpec("read", max_workers=1), StageSpec("b"), StageSpec("c")]
    drv = d.Driver(specs, _two_nodes(), lineage=d.task_lineage(), partitions_from_first_stage=True)
    drv.start(d.make_items(6))
    return drv


def test_partitions_made_by_the_first_stage_rerun_from_the_second_stage():
    drv = _first_stage_partitions_state()
    mark = {}
    drv.run(_lose_after(8, "n2", mark))
    assert {drv.node_of(b) for b in drv.dispatched if b.stage_index == 0} == {"n1"}
    assert mark["live_on_node"] and drv.s.fatal is None
    assert _result_ids(drv) == _exactly_once(6, ["read", "b", "c"])
    assert _dispatches(drv, 0) == Counter(f"t{i}" for i in range(6)), "the first stage never runs again"
    assert drv.s.recomputed_partitions > 0
    assert drv.s.counters[1].tasks_in == 6 + drv.s.recomputed_partitions
    d.assert_balanced(drv.s)


def test_partitions_whose_source_was_on_the_lost_node_are_data_lost():
    drv = _first_stage_partitions_state()
    drv.run(_lose_after(3, "n1", {}))  # n1 ran 'read': the partitions' source objects were there
    fatal = drv.s.fatal
    assert fatal is not None and fatal.error_type == "DataLostError"
    assert "was itself on the lost node" in fatal.message


# -- defects the first version had --------------------------------------------------------------------------------
def test_lost_first_stage_inputs_are_not_dropped_silently_when_partitions_come_from_the_first_stage():
    drv = d.Driver(
        [StageSpec("read"), StageSpec("b")],
        [NodeCapacity("n1", 2.0)],
        lineage=d.task_lineage(),
        partitions_from_first_stage=True,
    )
    drv.start(d.make_items(3))
    handle, crashed = _crash_first(_holds("t1", 0))
    drv.run(handle)
    assert len(crashed) == 1
    accounted = {i.meta.task_id.split(">")[0] for i in drv.s.results} | {
        tid for f in drv.s.skipped for tid in f.task_ids
    }
    assert drv.s.fatal is not None or accounted == {"t0", "t1", "t2"}, "t1 must end as a result or a failure"


def test_stage_by_stage_recompute_frees_the_gpu_held_by_a_later_stage():
    specs = [StageSpec("e1", gpus=1.0), StageSpec("m"), StageSpec("e2", gpus=1.0)]
    nodes = [NodeCapacity("g1", 2.0, gpus=1.0), NodeCapacity("n2", 2.0)]
    drv = d.Driver(specs, nodes, SchedulerConfig(mode="stage_by_stage"), lineage=d.task_lineage())
    drv.start(d.make_items(4))
    mark = {}

    def handle(driver, batch):
        driver.complete(batch)
        if batch.stage_index == 2 and not mark:
            mark["gone"] = driver.lose_node("n2")  # 'm' ran on n2: its outputs are recomputed through e1

    drv.run(handle)
    assert drv.s.fatal is None and drv.s.recomputed_partitions > 0
    assert _result_ids(drv) == _exactly_once(4, ["e1", "m", "e2"])
