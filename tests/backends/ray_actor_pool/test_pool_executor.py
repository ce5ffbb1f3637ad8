"""RayActorPoolExecutor on the shared local Ray: pools, resources, errors, clean-up, progress."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pyarrow as pa
import pytest
import ray
from ray import cloudpickle

from raycurator import (
    DocumentBatch,
    InsufficientResourcesError,
    LocalExecutor,
    Pipeline,
    ProcessingStage,
    Resources,
    StageExecutionError,
)
from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
from raycurator.errors import PipelineConfigError
from raycurator.pipeline.pipeline import default_executor
from raycurator.tasks import Task

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.usefixtures("shared_ray")


def make_batches(count: int, rows: int = 4, files: bool = True) -> list[DocumentBatch]:
    return [
        DocumentBatch(
            f"task-{i:03d}",
            "ds",
            pa.table({"text": [f"doc {i}-{j}" for j in range(rows)]}),
            _metadata={"source_files": [f"/data/file-{i:03d}.jsonl"]} if files else {},
        )
        for i in range(count)
    ]


class Tag(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Adds the worker's pid and a value computed in setup()."""

    _name = "tag"

    def __init__(
        self, cpus: float = 1.0, batch_size: int = 1, workers: int | None = None, marker_dir: str = ""
    ) -> None:
        self._resources = Resources(cpus=cpus)
        self._batch_size = batch_size
        self._workers = workers
        self.marker_dir = marker_dir
        self.secret = None

    def num_workers(self) -> int | None:
        return self._workers

    def setup(self, worker_metadata=None) -> None:
        self.secret = f"setup-by-{os.getpid()}"
        if self.marker_dir:
            Path(self.marker_dir, f"setup-{os.getpid()}").touch()

    def teardown(self) -> None:
        if self.marker_dir:
            Path(self.marker_dir, f"teardown-{os.getpid()}").touch()

    def process(self, task: DocumentBatch) -> DocumentBatch:
        table = task.to_pyarrow()
        table = table.append_column(f"secret_{self.name}", pa.array([self.secret] * table.num_rows))
        return DocumentBatch(task.task_id, task.dataset_name, table, task._stage_perf, task._metadata)


class Sleepy(ProcessingStage[DocumentBatch, DocumentBatch]):
    _name = "sleepy"

    def __init__(self, slow_task: str, slow_s: float, marker_dir: str, fast_s: float = 0.05) -> None:
        self.slow_task, self.slow_s, self.marker_dir, self.fast_s = slow_task, slow_s, marker_dir, fast_s

    def process(self, task: DocumentBatch) -> DocumentBatch:
        if task.task_id == self.slow_task:
            # slow from the moment another actor is up and working (however long its start took)
            deadline = time.monotonic() + 60
            while not any(Path(self.marker_dir).glob("done-*")) and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(self.slow_s)
        else:
            time.sleep(self.fast_s)
            Path(self.marker_dir, f"done-{os.getpid()}-{task.task_id}").touch()
        table = task.to_pyarrow().append_column("pid", pa.array([os.getpid()] * task.num_items))
        return DocumentBatch(task.task_id, task.dataset_name, table, task._stage_perf, task._metadata)


class Explode(ProcessingStage[DocumentBatch, DocumentBatch]):
    _name = "explode"

    def __init__(self, bad_task: str) -> None:
        self.bad_task = bad_task

    def process(self, task: DocumentBatch) -> DocumentBatch:
        if task.task_id == self.bad_task:
            raise ValueError(f"cannot digest {task.task_id}")
        return task


def run(stages: list[ProcessingStage], tasks: list[Task], **config) -> tuple[list[Task], RayActorPoolExecutor]:
    executor = RayActorPoolExecutor(config=config, show_progress=False)
    return executor.execute(stages, tasks), executor


def test_setup_state_is_visible_in_outputs_and_every_actor_is_torn_down(tmp_path, alive_actors) -> None:
    outputs, executor = run([Tag(marker_dir=str(tmp_path))], make_batches(6))
    assert sorted(o.task_id for o in outputs) == [f"task-{i:03d}" for i in range(6)]
    for output in outputs:
        secrets = set(output.to_pyarrow()["secret_tag"].to_pylist())
        assert len(secrets) == 1 and secrets.pop().startswith("setup-by-")
    setups = sorted(p.name.split("-", 1)[1] for p in tmp_path.glob("setup-*"))
    teardowns = sorted(p.name.split("-", 1)[1] for p in tmp_path.glob("teardown-*"))
    assert setups == teardowns and len(setups) == executor.last_report.stage("tag").actors_started
    assert not [a for a in alive_actors() if a["ActorClassName"] == "Tag"]


@pytest.mark.parametrize(
    ("stage", "tasks", "config", "expected"),
    [
        (Tag(cpus=1), 8, {}, 2),  # two 1-CPU actors fit two CPUs
        (Tag(cpus=2), 8, {}, 1),  # one 2-CPU actor fits
        (Tag(cpus=0.5), 8, {}, 4),  # four half-CPU actors fit
        (Tag(cpus=1, workers=1), 8, {}, 1),  # num_workers caps the pool
        (Tag(cpus=1), 1, {}, 1),  # one batch of work needs one actor
        (Tag(cpus=1, batch_size=8), 8, {}, 1),  # 8 tasks are one batch of 8
        (Tag(cpus=1), 8, {"reserved_cpus": 1}, 1),  # reservations shrink the pool
    ],
)
def test_stage_by_stage_pool_size_follows_resources(stage, tasks, config, expected) -> None:
    outputs, executor = run([stage], make_batches(tasks), mode="stage_by_stage", **config)
    assert len(outputs) == tasks
    assert executor.last_report.stage("tag").actors_started == expected


def test_a_stage_too_big_for_the_cluster_is_a_clear_error(alive_actors) -> None:
    with pytest.raises(InsufficientResourcesError) as info:
        run([Tag(cpus=4)], make_batches(2))
    message = str(info.value)
    assert "'tag'" in message and "4 CPU" in message and "2 CPU" in message
    with pytest.raises(InsufficientResourcesError, match="GPU"):
        run([Tag().with_(resources=Resources(gpus=0.5))], make_batches(1))
    assert not alive_actors()


def test_slow_batch_does_not_hold_the_others_back(tmp_path) -> None:
    slow = Sleepy("task-000", slow_s=3.0, marker_dir=str(tmp_path))
    outputs, _ = run([slow], make_batches(12), mode="stage_by_stage")
    by_pid: dict[int, list[str]] = {}
    for output in outputs:
        by_pid.setdefault(output.to_pyarrow()["pid"][0].as_py(), []).append(output.task_id)
    slow_pid = next(pid for pid, ids in by_pid.items() if "task-000" in ids)
    assert by_pid[slow_pid] == ["task-000"], "tasks queued behind the slow batch on its actor"
    assert sum(len(v) for v in by_pid.values()) == 12


@pytest.mark.parametrize("mode", ["streaming", "stage_by_stage"])
def test_failing_stage_names_stage_tasks_files_and_traceback(mode, alive_actors) -> None:
    with pytest.raises(StageExecutionError) as info:
        run([Tag(), Explode("task-003"), Tag().with_(name="after")], make_batches(6), mode=mode)
    error = info.value
    assert error.stage_name == "explode"
    assert error.task_ids == ["task-003"]
    assert error.source_files == ["/data/file-003.jsonl"]
    assert error.error_type == "ValueError"
    assert "cannot digest task-003" in str(error)
    assert "Traceback" in error.traceback_text and "in process" in error.traceback_text
    assert not alive_actors()


def test_setup_failure_fails_the_run_naming_the_stage(alive_actors) -> None:
    class BrokenSetup(Tag):
        _name = "broken_setup"

        def setup(self, worker_metadata=None) -> None:
            raise RuntimeError("model weights missing")

    with pytest.raises(StageExecutionError, match=r"broken_setup.*model weights missing"):
        run([BrokenSetup()], make_batches(2))
    assert not alive_actors()


def test_runtime_env_reaches_the_actors() -> None:
    class ReadEnv(ProcessingStage[DocumentBatch, DocumentBatch]):
        _name = "read_env"

        def process(self, task: DocumentBatch) -> DocumentBatch:
            value = os.environ.get("RAYCURATOR_TEST_VALUE", "")
            table = task.to_pyarrow().append_column("env", pa.array([value] * task.num_items))
            return DocumentBatch(task.task_id, task.dataset_name, table)

    outputs, _ = run([ReadEnv()], make_batches(2), runtime_env={"env_vars": {"RAYCURATOR_TEST_VALUE": "x42"}})
    assert {v for o in outputs for v in o.to_pyarrow()["env"].to_pylist()} == {"x42"}


def test_already_initialised_ray_is_reused_and_left_running() -> None:
    run([Tag()], make_batches(1))
    assert ray.is_initialized()
    assert ray.get(ray.put(7)) == 7


def test_progress_lines_per_stage_when_not_a_tty(capsys) -> None:
    executor = RayActorPoolExecutor(config={"progress_interval_s": 0.0})
    executor.execute([Tag(), Tag().with_(name="second")], make_batches(3))
    err = capsys.readouterr().err
    assert "tag: tasks 3/3 done" in err and "second: tasks 3/3 done" in err
    RayActorPoolExecutor(show_progress=False).execute([Tag()], make_batches(3))
    assert "tasks" not in capsys.readouterr().err


def test_unknown_config_key_is_rejected_with_the_valid_keys() -> None:
    with pytest.raises(PipelineConfigError, match=r"unknown .*'moed'.*valid keys"):
        RayActorPoolExecutor(config={"moed": "streaming"})
    with pytest.raises(PipelineConfigError, match="on_error"):
        RayActorPoolExecutor(config={"on_error": "ignore"})


def test_pipeline_run_uses_the_actor_pool_executor_by_default() -> None:
    assert isinstance(default_executor(), RayActorPoolExecutor)
    pipeline = Pipeline("p", stages=[Tag(), Tag().with_(name="again")])
    outputs = pipeline.run(initial_tasks=make_batches(3))
    local = LocalExecutor().execute(pipeline.build(), make_batches(3))
    assert sorted(o.task_id for o in outputs) == sorted(o.task_id for o in local)
    assert all([s.stage_name for s in o._stage_perf] == ["tag", "again"] for o in outputs)


def test_report_is_written_to_the_run_log_dir(tmp_path) -> None:
    _, executor = run([Tag()], make_batches(3), log_dir=str(tmp_path))
    report = executor.last_report
    assert report.status == "succeeded" and report.balanced
    written = list(tmp_path.glob("*/report.json"))
    assert len(written) == 1 and written[0].parent.name == report.run_id
