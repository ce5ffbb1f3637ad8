"""StreamingScheduler without Ray: actor deaths, retries, stage errors, crashed calls, failed set-ups."""

from __future__ import annotations

from collections import Counter

import pytest
import scheduler_driver as d

from raycurator.backends.ray_actor_pool.scheduling.capacity import NodeCapacity
from raycurator.backends.ray_actor_pool.scheduling.items import BatchSummary
from raycurator.backends.ray_actor_pool.scheduling.operators import StageSpec
from raycurator.backends.ray_actor_pool.scheduling.scheduler import SchedulerConfig


def _first_batch(drv, items=1, **kwargs):
    """Start the run, make the actors ready, and return the first dispatched batch."""
    drv.start(d.make_items(items, **kwargs))
    drv.step()
    drv.ready()
    return drv.step()[0]


def _root(task_id):
    return task_id.split(">")[0]


# -- actor deaths and retries -------------------------------------------------------------------------------
def test_actor_death_requeues_its_batch_on_a_replacement_actor():
    specs = [StageSpec("a", batch_size=2, max_workers=1), StageSpec("b")]  # one actor: no scale-up
    drv = d.Driver(specs, [NodeCapacity("n1", 2.0)])
    batch = _first_batch(drv, items=4)
    (dead,) = drv.stage_actor_ids(0)
    assert drv.s.nodes["n1"].cpus_in_use == 1.0
    assert drv.kill(dead) == [batch]
    assert batch.attempts == 1 and batch.actor_id is None
    assert drv.s.nodes["n1"].cpus_in_use == 0.0, "the dead actor's CPU slot is free again"
    assert drv.s.counters[0].retries == 1
    assert drv.s.operators[0].pending_work == 4, "the batch waits again, ahead of the queue"

    drv.step()
    (replacement,) = drv.stage_actor_ids(0)
    assert replacement != dead
    drv.ready()
    (again, *_) = drv.step()
    assert again is batch and again.actor_id == replacement and again.task_ids == ["t0", "t1"]
    counters = drv.s.counters[0]
    assert (counters.actors_started, counters.actors_restarted) == (2, 1)
    drv.run()
    assert sorted(i.meta.task_id for i in drv.s.results) == sorted(d.chain_ids([f"t{i}" for i in range(4)], "ab"))
    d.assert_balanced(drv.s)
    assert drv.s.counters[1].retries == drv.s.counters[1].actors_restarted == 0


def test_death_of_a_pipelined_actor_requeues_every_call_it_held():
    cfg = SchedulerConfig(pipeline_depth=2, short_batch_s=1.0)
    drv = d.Driver([StageSpec("a", max_workers=1)], [NodeCapacity("n1", 1.0)], cfg)
    first = _first_batch(drv, items=6)
    drv.complete(first, BatchSummary(outputs=[d.out_meta(first.items[0].meta, "a")], process_time=0.01))
    held = drv.step()
    assert len(held) == 2
    requeued = drv.kill(held[0].actor_id)
    assert sorted(b.batch_id for b in requeued) == sorted(b.batch_id for b in held)
    assert drv.s.counters[0].retries == 2
    drv.run()
    assert sorted(i.meta.task_id for i in drv.s.results) == sorted(f"t{i}>a" for i in range(6))
    d.assert_balanced(drv.s)


def test_death_of_an_idle_actor_retries_nothing():
    drv = d.Driver([StageSpec("a"), StageSpec("b")], [NodeCapacity("n1", 2.0)])
    drv.start(d.make_items(3))
    drv.step()
    drv.ready()
    (idle,) = drv.stage_actor_ids(1)
    assert drv.kill(idle) == []
    drv.run()
    assert len(drv.s.results) == 3
    assert drv.s.counters[1].retries == 0 and drv.s.counters[1].actors_restarted == 1
    d.assert_balanced(drv.s)


def test_death_in_stage_by_stage_mode_refills_the_pool():
    drv = d.Driver([StageSpec("a")], [NodeCapacity("n1", 2.0)], SchedulerConfig(mode="stage_by_stage"))
    batch = _first_batch(drv, items=5)
    assert len(drv.created) == 2
    drv.kill(batch.actor_id)
    drv.step()
    assert len(drv.s.stage_actors(0)) == 2 and len(drv.created) == 3
    drv.run()
    assert len(drv.s.results) == 5 and drv.s.counters[0].actors_restarted == 1


def _kill_until(drv, deaths):
    """Kill whichever actor runs stage 0's batch t0, `deaths` times."""
    for _ in range(deaths):
        for _ in range(5):
            drv.step()
            drv.ready()
            running = [b for b in drv.running_of(0) if "t0" in b.task_ids]
            if running:
                break
        (batch,) = running
        drv.kill(batch.actor_id)
    return batch


@pytest.mark.parametrize("retries", [0, 1, 3])
def test_exceeding_max_task_retries_with_raise_is_fatal(retries):
    spec = StageSpec("embed", batch_size=2, max_task_retries=retries)
    drv = d.Driver([spec], [NodeCapacity("n1", 1.0)])
    drv.start(d.make_items(2))
    batch = _kill_until(drv, retries + 1)
    fatal = drv.s.fatal
    assert fatal is not None and drv.s.done
    assert fatal.stage == "embed" and fatal.task_ids == ["t0", "t1"]
    assert fatal.source_files == ["t0.jsonl", "t1.jsonl"]
    assert fatal.error_type == "ActorDiedError" and f"max_task_retries={retries}" in fatal.message
    assert fatal.attempts == batch.attempts == retries + 1
    assert drv.s.plan_actors() == [] and drv.s.next_dispatches() == []
    assert drv.s.counters[0].tasks_failed == 2
    d.assert_balanced(drv.s)


def test_exceeding_max_task_retries_with_skip_records_every_task_and_goes_on():
    specs = [StageSpec("a", batch_size=3, max_task_retries=2, on_error="skip"), StageSpec("b")]
    drv = d.Driver(specs, [NodeCapacity("n1", 1.0)])
    drv.start(d.make_items(7))
    _kill_until(drv, 3)
    assert drv.s.fatal is None
    assert [f.task_ids for f in drv.s.skipped] == [["t0"], ["t1"], ["t2"]]
    assert {(f.stage, f.error_type, f.attempts) for f in drv.s.skipped} == {("a", "ActorDiedError", 3)}
    assert [f.source_files for f in drv.s.skipped] == [["t0.jsonl"], ["t1.jsonl"], ["t2.jsonl"]]
    drv.run()
    assert sorted(i.meta.task_id for i in drv.s.results) == sorted(f"t{i}>a>b" for i in range(3, 7))
    assert drv.s.counters[0].tasks_failed == 3 and drv.s.counters[1].tasks_in == 4
    assert drv.s.counters[0].actors_restarted == 3
    d.assert_balanced(drv.s)


def test_retries_counter_counts_resubmissions():
    drv = d.Driver([StageSpec("a", max_task_retries=2, on_error="skip")], [NodeCapacity("n1", 1.0)])
    drv.start(d.make_items(1))
    _kill_until(drv, 3)
    resubmitted = len([b for b in drv.dispatched if b.task_ids == ["t0"]]) - 1
    assert resubmitted == 2
    assert drv.s.counters[0].retries == resubmitted


# -- errors raised by a stage -----------------------------------------------------------------------------
def test_stage_error_with_raise_is_fatal_and_names_stage_and_tasks():
    drv = d.Driver([StageSpec("clean", batch_size=3), StageSpec("after")], [NodeCapacity("n1", 2.0)])
    batch = _first_batch(drv, items=3)
    error = d.failure("clean", ["t0", "t1", "t2"], "bad row")
    error.source_files = ["t0.jsonl", "t1.jsonl", "t2.jsonl"]
    drv.complete(batch, BatchSummary(failures=[error], failed_input_positions=[0, 1, 2], rows_in=30))
    assert drv.s.done and drv.s.fatal is error
    assert (drv.s.fatal.stage, drv.s.fatal.task_ids, drv.s.fatal.attempts) == ("clean", ["t0", "t1", "t2"], 1)
    assert drv.s.results == [] and drv.s.counters[1].tasks_in == 0
    assert drv.s.counters[0].tasks_failed == 3
    d.assert_balanced(drv.s)
    assert drv.s.next_dispatches() == [] and drv.s.plan_actors() == []


def test_stage_error_after_a_retry_reports_both_attempts():
    drv = d.Driver([StageSpec("clean")], [NodeCapacity("n1", 1.0)])
    batch = _first_batch(drv)
    drv.kill(batch.actor_id)
    drv.step()
    drv.ready()
    (again,) = drv.step()
    drv.complete(again, BatchSummary(failures=[d.failure("clean", "t0")], failed_input_positions=[0]))
    assert drv.s.fatal.attempts == 2


def test_stage_error_with_skip_fails_only_the_reported_inputs():
    specs = [StageSpec("clean", batch_size=4, on_error="skip"), StageSpec("after", batch_size=4)]
    drv = d.Driver(specs, [NodeCapacity("n1", 2.0)])
    drv.start(d.make_items(8))

    def behave(driver, batch):
        if batch.stage_index == 0 and batch.task_ids[0] == "t0":  # t1 and t3 raise; the others pass
            good = [batch.items[0], batch.items[2]]
            summary = BatchSummary(
                outputs=[d.out_meta(i.meta, "clean") for i in good],
                output_counts=[1, 1],
                failures=[d.failure("clean", "t1"), d.failure("clean", "t3")],
                failed_input_positions=[1, 3],
            )
            driver.complete(batch, summary)
        else:
            driver.complete(batch)

    drv.run(behave)
    assert drv.s.fatal is None
    assert [(f.task_ids, f.attempts) for f in drv.s.skipped] == [(["t1"], 1), (["t3"], 1)]
    assert sorted(_root(i.meta.task_id) for i in drv.s.results) == sorted(f"t{i}" for i in (0, 2, 4, 5, 6, 7))
    clean = drv.s.counters[0]
    assert (clean.tasks_in, clean.tasks_attributed, clean.tasks_filtered, clean.tasks_failed) == (8, 6, 0, 2)
    d.assert_balanced(drv.s)


def test_on_error_is_per_stage():
    specs = [StageSpec("lenient", on_error="skip"), StageSpec("strict", on_error="raise")]
    drv = d.Driver(specs, [NodeCapacity("n1", 2.0)])
    drv.start(d.make_items(4))

    def behave(driver, batch):
        root = _root(batch.task_ids[0])
        if (batch.stage_index, root) in {(0, "t1"), (1, "t2")}:
            tid = batch.task_ids[0]
            summary = BatchSummary(
                failures=[d.failure(driver.names[batch.stage_index], tid)], failed_input_positions=[0]
            )
            driver.complete(batch, summary)
        else:
            driver.complete(batch)

    drv.run(behave)
    assert [f.task_ids for f in drv.s.skipped] == [["t1"]]
    assert drv.s.fatal is not None and (drv.s.fatal.stage, drv.s.fatal.task_ids) == ("strict", ["t2>lenient"])


# -- calls that crash outside the stage, actors that cannot start -------------------------------------------
def test_crashed_call_with_raise_fails_the_run_with_its_inputs():
    drv = d.Driver([StageSpec("a", batch_size=2)], [NodeCapacity("n1", 1.0)])
    batch = _first_batch(drv, items=2)
    drv.crash(batch, "ObjectLostError", "input object lost")
    fatal = drv.s.fatal
    assert (fatal.stage, fatal.task_ids, fatal.error_type, fatal.attempts) == ("a", ["t0", "t1"], "ObjectLostError", 1)
    assert fatal.message == "input object lost" and fatal.traceback
    assert drv.s.nodes["n1"].cpus_in_use == 0.0
    assert drv.s.done and drv.s.counters[0].tasks_failed == 2
    d.assert_balanced(drv.s)


def test_crashed_call_with_skip_fails_its_inputs_and_the_run_goes_on():
    specs = [StageSpec("a", batch_size=2, on_error="skip"), StageSpec("b")]
    drv = d.Driver(specs, [NodeCapacity("n1", 1.0)])
    drv.start(d.make_items(6))

    def behave(driver, batch):
        if batch.stage_index == 0 and batch.task_ids == ["t2", "t3"]:
            driver.crash(batch)
        else:
            driver.complete(batch)

    drv.run(behave)
    assert [(f.task_ids, f.error_type) for f in drv.s.skipped] == [
        (["t2"], "ObjectLostError"),
        (["t3"], "ObjectLostError"),
    ]
    assert sorted(i.meta.task_id for i in drv.s.results) == sorted(f"t{i}>a>b" for i in (0, 1, 4, 5))
    assert drv.s.counters[0].tasks_failed == 2
    d.assert_balanced(drv.s)


def test_actor_start_failure_is_fatal_and_names_the_stage():
    specs = [StageSpec("read"), StageSpec("embed", gpus=1.0)]
    drv = d.Driver(specs, [NodeCapacity("n1", 2.0, gpus=1.0)])
    drv.start(d.make_items(2))
    drv.step()
    (embed_actor,) = drv.stage_actor_ids(1)
    assert drv.s.nodes["n1"].gpus_held == 1.0
    drv.starting.remove(embed_actor)
    drv.s.on_actor_start_failed(embed_actor, "OSError", "model weights missing", "Traceback: ...")
    fatal = drv.s.fatal
    assert fatal.stage == "embed" and fatal.error_type == "OSError"
    assert "model weights missing" in fatal.message and "set-up" in fatal.message
    assert fatal.traceback == "Traceback: ..."
    assert embed_actor not in drv.s.actors
    assert drv.s.nodes["n1"].gpus_held == 0.0
    assert drv.s.done and drv.s.plan_actors() == [] and drv.s.next_dispatches() == []


def test_release_all_after_a_failure_frees_every_actor_once():
    specs = [StageSpec("a"), StageSpec("b", gpus=0.5)]
    drv = d.Driver(specs, [NodeCapacity("n1", 2.0, gpus=1.0)])
    batch = _first_batch(drv, items=3)
    drv.clock.advance(4.0)
    drv.crash(batch)
    assert drv.s.done and drv.s.fatal is not None
    released = drv.s.release_all()
    assert sorted(released) == sorted(drv.created)
    assert drv.s.actors == {} and drv.s.release_all() == []
    assert drv.s.nodes["n1"].cpus_in_use == 0.0 and drv.s.nodes["n1"].gpus_held == 0.0
    assert drv.s.counters[1].idle_s == pytest.approx(4.0), "idle time of the never-used actor is accounted"


# -- everything at once ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(6))
def test_random_deaths_errors_and_crashes_lose_and_duplicate_nothing(seed):
    specs = [
        StageSpec("a", batch_size=2, on_error="skip", max_task_retries=2),
        StageSpec("b", batch_size=3, on_error="skip", max_task_retries=1),
        StageSpec("c", batch_size=1, on_error="skip", max_task_retries=2),
    ]
    drv = d.Driver(specs, [NodeCapacity("n1", 2.0), NodeCapacity("n2", 1.0)], seed=seed)
    deaths = Counter()

    def chaos(driver, batch):
        roll = driver.rng.random()
        if roll < 0.15:
            deaths[batch.stage_index] += 1
            driver.kill(batch.actor_id)
        elif roll < 0.2:
            driver.crash(batch)
        elif roll < 0.3:
            position = driver.rng.randrange(len(batch.items))
            good = [i for n, i in enumerate(batch.items) if n != position]
            summary = BatchSummary(
                outputs=[d.out_meta(i.meta, driver.names[batch.stage_index]) for i in good],
                output_counts=[1] * len(good),
                failures=[d.failure(driver.names[batch.stage_index], batch.task_ids[position])],
                failed_input_positions=[position],
            )
            driver.complete(batch, summary)
        else:
            driver.complete(batch)

    drv.start(d.make_items(30))
    drv.run(chaos, complete_many=True)
    assert drv.s.fatal is None
    outcome = Counter(_root(i.meta.task_id) for i in drv.s.results) + Counter(
        _root(tid) for f in drv.s.skipped for tid in f.task_ids
    )
    assert outcome == Counter(f"t{i}" for i in range(30)), "every input ends exactly once: a result or a failure"
    assert all(i.meta.task_id == f"{_root(i.meta.task_id)}>a>b>c" for i in drv.s.results)
    d.assert_balanced(drv.s)
    assert sum(c.tasks_failed for c in drv.s.counters) == len(drv.s.skipped)
    for index, counters in enumerate(drv.s.counters):
        assert counters.actors_restarted <= deaths[index]
    assert sum(deaths.values()) > 0
    drv.drain_stops()
    assert sorted(drv.stopped + drv.killed) == sorted(drv.created)
    assert all(n.cpus_in_use == 0.0 for n in drv.s.nodes.values())


def test_a_dead_actor_is_replaced_even_when_another_actor_could_take_its_batch():
    drv = d.Driver([StageSpec("a")], [NodeCapacity("n1", 2.0)])
    drv.start(d.make_items(6))
    drv.step()
    assert len(drv.stage_actor_ids(0)) == 2, "two ready batches, two slots: two actors"
    drv.ready()
    running = drv.step()
    assert len(running) == 2
    victim = running[0].actor_id
    drv.kill(victim)
    drv.step()
    assert len(drv.created) == 3, "the dead actor is replaced: the pool keeps its size"
    assert drv.s.counters[0].actors_restarted == 1
    drv.run()
    assert len(drv.s.results) == 6
    d.assert_balanced(drv.s)
