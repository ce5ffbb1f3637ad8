"""Streaming mode: overlap, payloads kept out of the driver, backpressure, barriers, capacity sharing."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

import pyarrow as pa
import pytest
from ray import cloudpickle

from raycurator import DocumentBatch, FileGroupTask, LocalExecutor, ProcessingStage
from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
from raycurator.stages.base import RayStageSpecKeys
from raycurator.stages.shuffle import ShuffleStage
from raycurator.tasks import Task

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.usefixtures("shared_ray")


def batches(count: int, rows: int = 5) -> list[DocumentBatch]:
    return [
        DocumentBatch(
            f"t{i:03d}",
            "ds",
            pa.table(
                {"key": [f"k{(i * rows + j) % 7}" for j in range(rows)], "n": list(range(i * rows, (i + 1) * rows))}
            ),
        )
        for i in range(count)
    ]


class Sleep(ProcessingStage[DocumentBatch, DocumentBatch]):
    def __init__(self, name: str, seconds: float, batch_size: int = 1) -> None:
        self._name, self.seconds, self._batch_size = name, seconds, batch_size

    def process(self, task: DocumentBatch) -> DocumentBatch:
        time.sleep(self.seconds)
        return task


def execute(
    stages: list[ProcessingStage], tasks: list[Task] | None, **config
) -> tuple[list[Task], RayActorPoolExecutor]:
    executor = RayActorPoolExecutor(config=config, show_progress=False)
    return executor.execute(stages, tasks), executor


def test_stages_overlap_in_streaming_mode() -> None:
    stages = [Sleep("first", 0.25), Sleep("second", 0.25), Sleep("third", 0.25)]
    outputs, executor = execute(stages, batches(8), fuse_stages=False)
    assert len(outputs) == 8
    first, second, third = executor.last_report.stages
    assert second.first_start < first.last_end, "second stage waited for the first to finish"
    assert third.first_start < second.last_end
    _, sequential = execute(stages, batches(8), mode="stage_by_stage")
    first, second, _ = sequential.last_report.stages
    assert second.first_start >= first.last_end


@dataclass(repr=False)
class TracedBatch(DocumentBatch):
    """Appends the pid of every process that deserialises it to `trace_file`."""

    trace_file: str = ""

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        with open(self.trace_file, "a") as handle:
            handle.write(f"{os.getpid()}\n")


class MakeTraced(ProcessingStage[Task, TracedBatch]):
    _name = "make_traced"

    def __init__(self, trace_file: str, count: int) -> None:
        self.trace_file, self.count = trace_file, count

    def process(self, task: Task) -> list[TracedBatch]:
        table = pa.table({"text": ["x" * 1000] * 50})
        return [TracedBatch(f"b{i}", "ds", table, trace_file=self.trace_file) for i in range(self.count)]


class Touch(ProcessingStage[TracedBatch, TracedBatch]):
    _name = "touch"

    def process(self, task: TracedBatch) -> TracedBatch:
        return task


class Summarise(ProcessingStage[TracedBatch, FileGroupTask]):
    _name = "summarise"

    def process(self, task: TracedBatch) -> FileGroupTask:
        return FileGroupTask(task.task_id, task.dataset_name, [f"/out/{task.task_id}"])


def test_no_document_payload_is_deserialised_in_the_driver(tmp_path) -> None:
    trace = tmp_path / "trace.txt"
    stages = [MakeTraced(str(trace), 12), Touch(), Touch().with_(name="touch_again"), Summarise()]
    outputs, executor = execute(stages, None, return_results=False, fuse_stages=False)
    assert outputs == []
    assert executor.last_report.stage("summarise").tasks_out == 12
    pids = set(trace.read_text().split())
    assert pids, "the trace caught no deserialisation at all: the check would be vacuous"
    assert str(os.getpid()) not in pids


def test_backpressure_bounds_the_queue_before_a_slow_stage() -> None:
    stages = [Sleep("fast", 0.0), Sleep("slow", 0.15)]
    outputs, executor = execute(stages, batches(40), queue_limit_items=4, pipeline_depth=1, fuse_stages=False)
    assert len(outputs) == 40
    slow = executor.last_report.stage("slow")
    fast_actors = executor.last_report.stage("fast").actors_started
    assert slow.max_queued <= 4 + fast_actors, f"queue grew to {slow.max_queued}"
    # the fast stage outruns the slow one 40 times over: the queue must have filled to its limit
    assert slow.max_queued >= 4, f"the queue never reached its limit (at most {slow.max_queued} queued)"


class CountAll(ProcessingStage[DocumentBatch, DocumentBatch]):
    """A barrier: sees every input in one call."""

    _name = "count_all"

    def ray_stage_spec(self) -> dict:
        return {RayStageSpecKeys.IS_BARRIER: True}

    def process(self, task: DocumentBatch) -> DocumentBatch:
        raise AssertionError("a barrier stage is called through process_batch")

    def process_batch(self, tasks: list[DocumentBatch]) -> list[DocumentBatch]:
        table = pa.concat_tables([t.to_pyarrow() for t in tasks])
        table = table.append_column("calls_inputs", pa.array([len(tasks)] * table.num_rows))
        return [DocumentBatch("merged", "ds", table)]


def test_barrier_waits_for_its_upstream_and_gets_every_input_at_once() -> None:
    outputs, executor = execute([Sleep("before", 0.05), CountAll(), Sleep("after", 0.0)], batches(10))
    assert len(outputs) == 1
    assert set(outputs[0].to_pyarrow()["calls_inputs"].to_pylist()) == {10}
    assert outputs[0].num_items == 50
    before, barrier, _ = executor.last_report.stages
    assert barrier.first_start >= before.last_end


def test_six_one_cpu_stages_run_on_two_cpus() -> None:
    stages = [Sleep(f"s{i}", 0.02) for i in range(6)]
    outputs, executor = execute(stages, batches(12), fuse_stages=False)
    assert sorted(o.task_id for o in outputs) == [f"t{i:03d}" for i in range(12)]
    report = executor.last_report
    assert report.balanced and all(s.tasks_in == 12 for s in report.stages)


def test_spare_capacity_goes_to_the_slow_stage() -> None:
    _, executor = execute([Sleep("quick", 0.0), Sleep("heavy", 0.3)], batches(16), fuse_stages=False)
    report = executor.last_report
    assert report.stage("heavy").actors_started >= 2
    assert report.stage("heavy").busy_s > report.stage("quick").busy_s


def _rows(tasks: list[Task]) -> list[tuple]:
    return sorted(tuple(row.values()) for t in tasks for row in t.to_pyarrow().to_pylist())


def test_shuffle_runs_distributed_and_matches_the_local_executor() -> None:
    stage = ShuffleStage("key", num_partitions=3)
    outputs, executor = execute([Sleep("pre", 0.0), stage], batches(9))
    local = LocalExecutor().execute([Sleep("pre", 0.0), ShuffleStage("key", num_partitions=3)], batches(9))
    assert _rows(outputs) == _rows(local)
    assert sorted(o.task_id for o in outputs) == sorted(o.task_id for o in local)
    for output in outputs:  # every key lives in exactly one partition
        keys = set(output.to_pyarrow()["key"].to_pylist())
        others = {k for o in outputs if o is not output for k in o.to_pyarrow()["key"].to_pylist()}
        assert not keys & others
    counters = executor.last_report.stage("ShuffleStage")
    assert counters.tasks_in == 9 and counters.balanced and counters.rows_in == 45


def test_stage_by_stage_and_streaming_give_the_same_rows() -> None:
    stages = [Sleep("a", 0.0, batch_size=3), CountAll(), Sleep("b", 0.0)]
    streamed, _ = execute(stages, batches(7))
    staged, _ = execute(stages, batches(7), mode="stage_by_stage")
    assert _rows(streamed) == _rows(staged) == _rows(LocalExecutor().execute(stages, batches(7)))
