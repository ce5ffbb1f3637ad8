"""Fault tolerance: killed actors are replaced and their batches retried; errors follow on_error."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

import pyarrow as pa
import pytest
import ray
from ray import cloudpickle

from raycurator import DocumentBatch, LocalExecutor, ProcessingStage, StageExecutionError
from raycurator.backends.failures import FailureLedger
from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
from raycurator.tasks import Task

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.usefixtures("shared_ray")


def batches(count: int, rows: int = 3) -> list[DocumentBatch]:
    return [
        DocumentBatch(
            f"t{i:03d}",
            "ds",
            pa.table({"n": list(range(i * rows, (i + 1) * rows))}),
            _metadata={"source_files": [f"/in/part-{i:03d}.jsonl"]},
        )
        for i in range(count)
    ]


class Double(ProcessingStage[DocumentBatch, DocumentBatch]):
    _name = "double"

    def process(self, task: DocumentBatch) -> DocumentBatch:
        table = task.to_pyarrow()
        doubled = pa.table({"n": [2 * v for v in table["n"].to_pylist()]})
        return DocumentBatch(task.task_id, task.dataset_name, doubled, task._stage_perf, task._metadata)


class Split(ProcessingStage[DocumentBatch, DocumentBatch]):
    _name = "split"

    def process(self, task: DocumentBatch) -> list[DocumentBatch]:
        table = task.to_pyarrow()
        return [
            DocumentBatch(f"{task.task_id}.{i}", task.dataset_name, table.slice(i, 1), _metadata=task._metadata)
            for i in range(table.num_rows)
        ]


class CrashOnce(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Kills its own process (os._exit) the first time it sees each selected task."""

    _name = "crash_once"

    def __init__(self, marker_dir: str, victims: set[str], always: bool = False, batch_size: int = 1) -> None:
        self.marker_dir, self.victims, self.always, self._batch_size = marker_dir, victims, always, batch_size

    def process(self, task: DocumentBatch) -> DocumentBatch:
        if task.task_id in self.victims:
            marker = Path(self.marker_dir, task.task_id)
            if self.always or not marker.exists():
                marker.touch()
                os._exit(1)
        return task


class Hang(ProcessingStage[DocumentBatch, DocumentBatch]):
    """On its first sight of `victim`, publishes its actor name and sleeps until killed."""

    _name = "hang"

    def __init__(self, marker_dir: str, victim: str) -> None:
        self.marker_dir, self.victim = marker_dir, victim

    def process(self, task: DocumentBatch) -> DocumentBatch:
        marker = Path(self.marker_dir, "name")
        if task.task_id == self.victim and not marker.exists():
            staged = marker.with_suffix(".tmp")  # published whole: the test reads it as soon as it exists
            staged.write_text(ray.get_runtime_context().get_actor_name())
            staged.rename(marker)
            time.sleep(120)
        return task


class FailSome(ProcessingStage[DocumentBatch, DocumentBatch]):
    _name = "fail_some"

    def __init__(self, bad: set[str], batch_size: int = 1) -> None:
        self.bad, self._batch_size = bad, batch_size

    def process(self, task: DocumentBatch) -> DocumentBatch:
        if task.task_id in self.bad:
            raise ValueError(f"bad record in {task.task_id}")
        return task


def rows(tasks: list[Task]) -> list[tuple]:
    return sorted((t.task_id, v) for t in tasks for v in t.to_pyarrow()["n"].to_pylist())


def run(stages, tasks, **config):
    executor = RayActorPoolExecutor(config=config, show_progress=False)
    return executor.execute(stages, tasks), executor.last_report


def test_actors_exiting_mid_batch_are_replaced_and_output_matches_a_clean_run(tmp_path) -> None:
    victims = {"t002.1", "t005.0", "t007.2", "t009.1"}
    stages = [Double(), Split(), CrashOnce(str(tmp_path), victims), Double().with_(name="double_again")]
    clean = LocalExecutor().execute([Double(), Split(), Double()], batches(10))
    outputs, report = run(stages, batches(10))
    assert rows(outputs) == rows(clean)
    assert len(outputs) == len({o.task_id for o in outputs}) == 30
    crash = report.stage("crash_once")
    # each death resubmits the victim's batch, plus any batch queued behind it (pipeline_depth=2)
    assert len(victims) <= crash.retries <= 2 * len(victims)
    assert crash.actors_restarted >= 1
    assert report.balanced
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(victims)


def test_actor_killed_from_outside_is_replaced_and_nothing_is_lost(tmp_path) -> None:
    stages = [Double(), Hang(str(tmp_path), "t004"), Double().with_(name="double_again")]
    killed: list[str] = []

    def killer() -> None:
        marker = tmp_path / "name"
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        name = marker.read_text()
        ray.kill(ray.get_actor(name))
        killed.append(name)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    outputs, report = run(stages, batches(8))
    thread.join(timeout=5)
    assert killed, "the test never killed an actor"
    assert rows(outputs) == rows(LocalExecutor().execute([Double(), Double()], batches(8)))
    assert report.stage("hang").retries >= 1
    assert report.stage("hang").actors_restarted >= 1


@pytest.mark.parametrize("on_error", ["raise", "skip"])
def test_a_batch_that_keeps_killing_its_actor_fails_after_max_task_retries(tmp_path, on_error) -> None:
    stages = [CrashOnce(str(tmp_path), {"t001"}, always=True)]
    if on_error == "raise":
        with pytest.raises(StageExecutionError) as info:
            run(stages, batches(3), max_task_retries=2, pipeline_depth=1)
        assert info.value.stage_name == "crash_once" and info.value.task_ids == ["t001"]
        assert info.value.error_type == "ActorDiedError" and "max_task_retries=2" in str(info.value)
        return
    outputs, report = run(stages, batches(3), max_task_retries=2, on_error="skip", pipeline_depth=1)
    assert sorted(o.task_id for o in outputs) == ["t000", "t002"]
    entries = FailureLedger.read(report.failure_ledger)
    assert [(e["task_id"], e["attempts"], e["error_type"]) for e in entries] == [("t001", 3, "ActorDiedError")]
    assert report.stage("crash_once").retries == 2 and report.balanced


def test_skip_sends_exactly_the_failing_tasks_to_the_ledger() -> None:
    tasks = batches(40)
    bad = {"t007", "t031"}  # 5% of the tasks
    stages = [Double(), FailSome(bad, batch_size=4), Double().with_(name="double_again")]
    outputs, report = run(stages, tasks, on_error="skip")
    assert sorted(o.task_id for o in outputs) == sorted(t.task_id for t in tasks if t.task_id not in bad)
    entries = FailureLedger.read(report.failure_ledger)
    assert sorted(e["task_id"] for e in entries) == sorted(bad)
    for entry in entries:
        assert entry["stage"] == "fail_some" and entry["error_type"] == "ValueError"
        assert entry["message"] == f"bad record in {entry['task_id']}"
        assert "Traceback" in entry["traceback"] and entry["attempts"] == 1
        assert entry["source_files"] == [f"/in/part-{entry['task_id'][1:]}.jsonl"]
    counters = report.stage("fail_some")
    assert counters.tasks_failed == 2 and counters.tasks_in == 40 and counters.tasks_out == 38
    assert report.balanced
    saved = json.loads(Path(report.log_dir, "report.json").read_text())
    assert saved["failure_ledger"] == report.failure_ledger and saved["balanced"]


def test_on_error_can_be_overridden_per_stage() -> None:
    stages = [FailSome({"t001"}), FailSome({"t002"}).with_(name="strict")]
    with pytest.raises(StageExecutionError) as info:
        run(stages, batches(4), on_error="skip", stage_on_error={"strict": "raise"})
    assert info.value.stage_name == "strict" and info.value.task_ids == ["t002"]
