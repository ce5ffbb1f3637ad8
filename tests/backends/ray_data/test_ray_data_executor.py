"""RayDataExecutor on the shared local Ray: same results as the other executors, errors, set-up."""

from __future__ import annotations

import gc
import os
import sys
import time
from pathlib import Path

import pyarrow as pa
import pytest
import ray
from ray import cloudpickle

from raycurator import DocumentBatch, LocalExecutor, ProcessingStage, StageExecutionError
from raycurator.backends.ray_data import RayDataExecutor
from raycurator.stages.base import RayStageSpecKeys
from raycurator.stages.shuffle import ShuffleStage
from raycurator.tasks import Task

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.usefixtures("shared_ray")


def make_batches(count: int, rows: int = 3) -> list[DocumentBatch]:
    return [
        DocumentBatch(
            f"task-{i:03d}",
            "ds",
            pa.table({"text": [f"doc {i}-{j}" for j in range(rows)], "key": [(i * rows + j) % 5 for j in range(rows)]}),
            _metadata={"source_files": [f"/data/file-{i:03d}.jsonl"]},
        )
        for i in range(count)
    ]


def rebuild(task: DocumentBatch, table: pa.Table, task_id: str | None = None) -> DocumentBatch:
    task_id = task_id or task.task_id
    return DocumentBatch(task_id, task.dataset_name, table, list(task._stage_perf), dict(task._metadata))


class Source(ProcessingStage[Task, DocumentBatch]):
    """Makes `count` batches out of the start token (a source stage)."""

    _name = "source"

    def __init__(self, count: int) -> None:
        self.count = count

    def process(self, task: Task) -> list[DocumentBatch]:
        return make_batches(self.count)


class Split(ProcessingStage[DocumentBatch, DocumentBatch]):
    """1 → N: one task per row."""

    _name = "split"

    def process(self, task: DocumentBatch) -> list[DocumentBatch]:
        table = task.to_pyarrow()
        return [rebuild(task, table.slice(i, 1), f"{task.task_id}.{i}") for i in range(table.num_rows)]


class DropSome(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Filters out tasks whose first key is 0 (returns None); batches of 3."""

    _name = "drop_some"
    _batch_size = 3

    def process(self, task: DocumentBatch) -> DocumentBatch | None:
        return None if task.to_pyarrow()["key"][0].as_py() == 0 else task


class Tag(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Adds a value made in `setup()` (worker state) and the worker's pid; batches of 2."""

    _name = "tag"
    _batch_size = 2

    def __init__(self, marker_dir: str = "") -> None:
        self.marker_dir = marker_dir
        self.state: str | None = None

    def setup(self, worker_metadata=None) -> None:
        self.state = "ready"
        if self.marker_dir:
            Path(self.marker_dir, f"setup-{os.getpid()}").touch()

    def teardown(self) -> None:
        if self.marker_dir:
            Path(self.marker_dir, f"teardown-{os.getpid()}").touch()

    def process(self, task: DocumentBatch) -> DocumentBatch:
        table = task.to_pyarrow()
        table = table.append_column(f"state_{self.name}", pa.array([self.state] * table.num_rows))
        return rebuild(task, table.append_column(f"pid_{self.name}", pa.array([os.getpid()] * table.num_rows)))


class CountAll(ProcessingStage[DocumentBatch, DocumentBatch]):
    """A barrier: one output listing every input it got in its single call."""

    _name = "count_all"

    def ray_stage_spec(self) -> dict:
        return {RayStageSpecKeys.IS_BARRIER: True}

    def process(self, task: DocumentBatch) -> DocumentBatch:
        raise AssertionError("a barrier gets its inputs through process_batch")

    def process_batch(self, tasks: list[DocumentBatch]) -> list[DocumentBatch]:
        ids = sorted(t.task_id for t in tasks)
        return [DocumentBatch("all", "ds", pa.table({"task_id": ids, "calls": [1] * len(ids)}))]


class Explode(ProcessingStage[DocumentBatch, DocumentBatch]):
    _name = "explode"

    def __init__(self, bad_task: str) -> None:
        self.bad_task = bad_task

    def process(self, task: DocumentBatch) -> DocumentBatch:
        if task.task_id == self.bad_task:
            raise ValueError(f"cannot digest {task.task_id}")
        return task


class NodeMarker(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Writes a marker file per `setup_on_node` call."""

    _name = "node_marker"

    def __init__(self, marker_dir: str) -> None:
        self.marker_dir = marker_dir

    def setup_on_node(self, node_info=None, worker_metadata=None) -> None:
        Path(self.marker_dir, f"node-{node_info.node_id}-{os.getpid()}-{time.monotonic_ns()}").touch()

    def process(self, task: DocumentBatch) -> DocumentBatch:
        return task


def rows_of(tasks: list[Task]) -> list[tuple[str, list[dict]]]:
    """Outputs in a comparable form: (task id, rows without worker-specific columns), sorted."""
    out = []
    for task in tasks:
        table = task.to_pyarrow()
        table = table.drop_columns([c for c in table.column_names if c.startswith("pid")])
        out.append((task.task_id, table.to_pylist()))
    return sorted(out, key=lambda item: item[0])


def other_executors() -> list:
    executors = [RayDataExecutor()]
    try:
        from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
    except ImportError:  # the actor-pool backend is optional for these tests
        return executors
    return [*executors, RayActorPoolExecutor(config={"log_dir": None}, show_progress=False)]


PIPELINES = {
    "split_filter_batches": lambda: [Split(), DropSome(), Tag()],
    "barrier": lambda: [Split(), DropSome(), CountAll()],
    "setup_state": lambda: [Tag(), Tag().with_(name="tag_again", batch_size=3)],
}


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_same_outputs_as_the_local_executor(name) -> None:
    expected = rows_of(LocalExecutor().execute(PIPELINES[name](), make_batches(5)))
    assert expected, "the pipeline should produce something"
    for executor in other_executors():
        outputs = executor.execute(PIPELINES[name](), make_batches(5))
        assert rows_of(outputs) == expected, type(executor).__name__


class Rendezvous(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Marks its arrival, then waits (at most `wait_s`) for a call in another process to arrive
    too; records the pid and whether it met one. Calls that run one after another never meet."""

    _name = "rendezvous"

    def __init__(self, marker_dir: str, wait_s: float = 30.0) -> None:
        self.marker_dir, self.wait_s = marker_dir, wait_s

    def process(self, task: DocumentBatch) -> DocumentBatch:
        Path(self.marker_dir, f"arrived-{os.getpid()}-{task.task_id}").touch()
        deadline = time.monotonic() + self.wait_s
        met = False
        while not met and time.monotonic() < deadline:
            met = any(p.name.split("-")[1] != str(os.getpid()) for p in Path(self.marker_dir).glob("arrived-*"))
            time.sleep(0.05)
        table = task.to_pyarrow()
        table = table.append_column("met", pa.array([met] * table.num_rows))
        return rebuild(task, table.append_column("pid_rendezvous", pa.array([os.getpid()] * table.num_rows)))


def test_source_stage_from_the_start_token_is_split_and_runs_in_parallel(tmp_path) -> None:
    stages = [Source(6), Tag()]
    executor = RayDataExecutor()
    outputs = executor.execute(stages)
    assert rows_of(outputs) == rows_of(LocalExecutor().execute(stages))
    assert executor.last_plan[0].split_after
    assert len(outputs) == 6 and all(o.num_items == 3 for o in outputs)
    # the split batches reach the next stage as separate blocks, two of them in flight at once
    outputs = RayDataExecutor().execute([Source(6), Rendezvous(str(tmp_path))])
    assert len(outputs) == 6
    pids = {o.to_pyarrow()["pid_rendezvous"][0].as_py() for o in outputs}
    assert len(pids) == 2, pids
    assert any(o.to_pyarrow()["met"][0].as_py() for o in outputs), "no two batches ran at the same time"


def test_setup_state_runs_in_actors_and_perf_stats_follow_stage_order(tmp_path) -> None:
    executor = RayDataExecutor()
    outputs = executor.execute([Split(), Tag(marker_dir=str(tmp_path))], make_batches(4))
    assert [p.use_actors for p in executor.last_plan] == [False, True]
    assert len(outputs) == 12
    assert {v for o in outputs for v in o.to_pyarrow()["state_tag"].to_pylist()} == {"ready"}
    assert all([s.stage_name for s in o._stage_perf] == ["split", "tag"] for o in outputs)
    assert all(s.process_time >= 0 for o in outputs for s in o._stage_perf)
    setups = sorted(p.name.split("-", 1)[1] for p in tmp_path.glob("setup-*"))
    assert 1 <= len(setups) <= 2, setups  # at most one actor per CPU, each set up once
    deadline = time.monotonic() + 10  # Ray Data tears the pool down after the run, asynchronously
    while time.monotonic() < deadline and len(list(tmp_path.glob("teardown-*"))) < len(setups):
        time.sleep(0.2)
    assert sorted(p.name.split("-", 1)[1] for p in tmp_path.glob("teardown-*")) == setups


def test_barrier_gets_every_input_in_one_call() -> None:
    outputs = RayDataExecutor().execute([Split(), CountAll()], make_batches(4))
    (only,) = outputs
    table = only.to_pyarrow()
    assert table.num_rows == 12 and sum(table["calls"].to_pylist()) == 12
    assert table["task_id"].to_pylist() == sorted(f"task-{i:03d}.{j}" for i in range(4) for j in range(3))


def test_shuffle_matches_the_local_executor_up_to_order() -> None:
    def partitions(tasks: list[Task]) -> list[tuple[str, list]]:
        return sorted(
            (t.task_id, sorted(zip(t.to_pyarrow()["key"].to_pylist(), t.to_pyarrow()["text"].to_pylist(), strict=True)))
            for t in tasks
        )

    stages = [Split(), ShuffleStage("key", num_partitions=3)]
    expected = partitions(LocalExecutor().execute(stages, make_batches(6)))
    assert len(expected) >= 2
    for executor in other_executors():
        assert partitions(executor.execute(stages, make_batches(6))) == expected, type(executor).__name__


def test_preserve_order_gives_the_local_order() -> None:
    stages = [Split(), DropSome()]
    local = [t.task_id for t in LocalExecutor().execute(stages, make_batches(5))]
    ordered = RayDataExecutor(config={"preserve_order": True}).execute(stages, make_batches(5))
    assert [t.task_id for t in ordered] == local


def map_workers(alive_actors, caplog, wait_s: float = 10.0) -> list[dict]:
    """Ray Data's alive map actors, once they are gone or after `wait_s` (they exit asynchronously).

    Ray Data logs the failure with its traceback, and pytest's log capture keeps that record
    (so the failed run's frames and actors) until the test ends; a user's program does not.
    """
    for record in caplog.records:
        record.exc_info = None
    gc.collect()
    deadline = time.monotonic() + wait_s
    while True:
        workers = [a for a in alive_actors() if a["ActorClassName"].startswith("MapWorker")]
        if not workers or time.monotonic() > deadline:
            return workers
        time.sleep(0.2)


def test_failing_stage_names_stage_tasks_files_and_traceback(alive_actors, caplog) -> None:
    with pytest.raises(StageExecutionError) as info:
        RayDataExecutor().execute([Tag(), Explode("task-003"), Tag().with_(name="after")], make_batches(6))
    error = info.value
    assert type(error) is StageExecutionError
    assert error.stage_name == "explode"
    assert error.task_ids == ["task-003"]
    assert error.source_files == ["/data/file-003.jsonl"]
    assert error.error_type == "ValueError"
    assert "cannot digest task-003" in str(error)
    assert "Traceback" in error.traceback_text and "in process" in error.traceback_text
    assert not map_workers(alive_actors, caplog), "the failed run's actors are gone"


def test_setup_failure_fails_the_run_naming_the_stage(alive_actors, caplog) -> None:
    class BrokenSetup(Tag):
        _name = "broken_setup"

        def setup(self, worker_metadata=None) -> None:
            raise RuntimeError("model weights missing")

    with pytest.raises(StageExecutionError, match=r"broken_setup.*model weights missing"):
        RayDataExecutor().execute([BrokenSetup()], make_batches(2))
    assert not map_workers(alive_actors, caplog)


def test_setup_on_node_runs_once_per_node(tmp_path) -> None:
    outputs = RayDataExecutor().execute([NodeMarker(str(tmp_path)), Tag()], make_batches(4))
    assert len(outputs) == 4
    markers = list(tmp_path.glob("node-*"))
    node_ids = {n["NodeID"] for n in ray.nodes() if n["Alive"]}
    assert len(markers) == len(node_ids) == 1
    assert markers[0].name.split("-")[1] in node_ids


def test_empty_inputs_give_empty_outputs() -> None:
    assert RayDataExecutor().execute([Tag()], []) == []
    assert RayDataExecutor().execute([DropSome(), CountAll()], make_batches(1, rows=1)) == []


def test_already_initialised_ray_is_reused_and_left_running() -> None:
    RayDataExecutor().execute([Tag()], make_batches(1))
    assert ray.is_initialized()
    assert ray.get(ray.put(7)) == 7


class ReadEnv(ProcessingStage[DocumentBatch, DocumentBatch]):
    _name = "read_env"

    def process(self, task: DocumentBatch) -> DocumentBatch:
        value = os.environ.get("RAYCURATOR_TEST_VALUE", "")
        return rebuild(task, task.to_pyarrow().append_column("env", pa.array([value] * task.num_items)))


def test_runtime_env_reaches_the_workers_of_an_already_running_ray() -> None:
    config = {"runtime_env": {"env_vars": {"RAYCURATOR_TEST_VALUE": "x42"}}}
    outputs = RayDataExecutor(config=config).execute([ReadEnv()], make_batches(2))
    assert {v for o in outputs for v in o.to_pyarrow()["env"].to_pylist()} == {"x42"}


class TagAsTasks(Tag):
    """A stage with `setup` that asks to run as tasks: set up around every batch."""

    _name = "tag_as_tasks"

    def ray_stage_spec(self) -> dict:
        return {RayStageSpecKeys.IS_ACTOR_STAGE: False}


class CallTagAsTasks(TagAsTasks):
    """`TagAsTasks` whose every set-up gets a new id: a marker per set-up ("began-") and per
    teardown ("ended-") named by that id, and each output carries the id it ran under."""

    _name = "call_tag_as_tasks"

    def setup(self, worker_metadata=None) -> None:
        super().setup(worker_metadata)
        self.setup_id = f"{os.getpid()}_{time.monotonic_ns()}"
        Path(self.marker_dir, f"began-{self.setup_id}").touch()

    def teardown(self) -> None:
        super().teardown()
        Path(self.marker_dir, f"ended-{self.setup_id}").touch()

    def process(self, task: DocumentBatch) -> DocumentBatch:
        task = super().process(task)
        return rebuild(task, task.to_pyarrow().append_column("setup_id", pa.array([self.setup_id] * task.num_items)))


def test_a_setup_stage_that_asks_for_tasks_is_set_up_around_each_batch(tmp_path) -> None:
    executor = RayDataExecutor()
    outputs = executor.execute([TagAsTasks()], make_batches(4))
    assert [p.use_actors for p in executor.last_plan] == [False]
    assert rows_of(outputs) == rows_of(LocalExecutor().execute([TagAsTasks()], make_batches(4)))
    # 8 tasks in batches of 2 on at most 2 workers: set up once per worker, some set-up would
    # serve 4 tasks; set up around each batch, none serves more than 2, and each is torn down
    outputs = executor.execute([CallTagAsTasks(marker_dir=str(tmp_path))], make_batches(8))
    assert len(outputs) == 8
    served: dict[str, int] = {}
    for output in outputs:
        setup_id = output.to_pyarrow()["setup_id"][0].as_py()
        served[setup_id] = served.get(setup_id, 0) + 1
    assert max(served.values()) <= 2, served
    setups = sorted(p.name.removeprefix("began-") for p in tmp_path.glob("began-*"))
    assert setups == sorted(served), "every set-up served a batch"
    assert sorted(p.name.removeprefix("ended-") for p in tmp_path.glob("ended-*")) == setups
