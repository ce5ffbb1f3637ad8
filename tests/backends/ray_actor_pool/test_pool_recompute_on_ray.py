"""Recomputation after a lost node, on a real simulated cluster (ray.cluster_utils.Cluster).

The fake cluster (`scheduler_driver`) covers these cases in plain Python; here the same run goes
through Ray: real actors, objects kept in the object store of the node that made them (each task
is ~300 KB, above Ray's inline limit), and nodes removed by the test. One cluster serves the
module (a head the runs do not use, and two workers, topped up before each test). The test
decides the moment of the loss by holding a stage while a hold file exists, so that the lost
node surely holds data the run still needs.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import ray
from ray import cloudpickle
from ray.cluster_utils import Cluster

from raycurator import DocumentBatch, ProcessingStage, Resources
from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
from raycurator.backends.ray_actor_pool.scheduling import recovery
from raycurator.errors import StageExecutionError
from raycurator.stages.base import RayStageSpecKeys

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.slow

ROWS = 600  # x 500 bytes of padding: ~300 KB a task, kept in the plasma store of the node that made it


@pytest.fixture(scope="module")
def cluster(ray_session) -> Iterator[Cluster]:
    """Head (1 CPU, not used by the runs) + two workers (2 CPUs each: a stage held on a worker leaves
    room there for a stage that runs again)."""
    with ray_session.cluster({"num_cpus": 2}, {"num_cpus": 2}) as cluster:
        yield cluster


@pytest.fixture
def runs(tmp_path) -> Iterator[list[Run]]:
    """The runs a test starts; a test that failed half-way has its holds lifted and its run ended."""
    started: list[Run] = []
    yield started
    for hold in tmp_path.glob("hold__*"):
        hold.unlink()
    for run in started:
        run.end()


def two_workers(cluster: Cluster) -> None:
    """Earlier tests remove workers: top the cluster up to two (one to lose, one to go on with)."""
    while len(cluster.worker_nodes) < 2:
        cluster.add_node(num_cpus=2)
    cluster.wait_for_nodes()


def remove(cluster: Cluster, node_id: str) -> None:
    cluster.remove_node(next(n for n in cluster.worker_nodes if n.node_id == node_id))


# -- stages ----------------------------------------------------------------------------------------------------
def _wait_while(path: Path) -> None:
    deadline = time.monotonic() + 60
    while path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)


def _node() -> str:
    return ray.get_runtime_context().get_node_id()


class Step(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Adds column `name` = k * factor and leaves a marker `name__node__task__time`. Waits while the
    file `hold__name` exists; raises on the task ids in `fail_on`. One actor (fewer start-ups)."""

    def __init__(self, name: str, factor: int, marker_dir: str, fail_on: tuple[str, ...] = ()) -> None:
        self._name, self.factor, self.marker_dir, self.fail_on = name, factor, marker_dir, fail_on
        self._resources = Resources(cpus=1)

    def num_workers(self) -> int:
        return 1

    def process(self, task: DocumentBatch) -> DocumentBatch:
        _wait_while(Path(self.marker_dir, f"hold__{self.name}"))
        if task.task_id in self.fail_on:
            raise ValueError(f"task {task.task_id} is unreadable")
        table = task.to_pyarrow()
        table = table.append_column(self.name, pc.multiply(table["k"], self.factor))
        Path(self.marker_dir, f"{self.name}__{_node()}__{task.task_id}__{time.time_ns()}").touch()
        return task.derive(table)


class Total(ProcessingStage[DocumentBatch, DocumentBatch]):
    """A barrier (not a shuffle): adds to every row the number of rows of all its inputs together, so
    an output made from only some of the partitions differs from a clean run's. Leaves a marker
    `total__node__inputs__time` per call."""

    def __init__(self, marker_dir: str) -> None:
        self._name, self.marker_dir = "total", marker_dir
        self._resources = Resources(cpus=1)

    def ray_stage_spec(self) -> dict:
        return {RayStageSpecKeys.IS_BARRIER: True}

    def process(self, task: DocumentBatch) -> list[DocumentBatch]:
        return self.process_batch([task])

    def process_batch(self, tasks: list[DocumentBatch]) -> list[DocumentBatch]:
        total = sum(task.num_items for task in tasks)
        Path(self.marker_dir, f"total__{_node()}__{len(tasks)}__{time.time_ns()}").touch()
        return [
            task.derive(task.to_pyarrow().append_column("total", pa.array([total] * task.num_items))) for task in tasks
        ]


def tasks(count: int) -> list[DocumentBatch]:
    return [
        DocumentBatch(
            f"t{i:02d}", "ds", pa.table({"k": list(range(i * ROWS, (i + 1) * ROWS)), "pad": ["x" * 500] * ROWS})
        )
        for i in range(count)
    ]


def markers(marker_dir: Path, stage: str) -> list[list[str]]:
    """[node, task or inputs, time] of each marker of `stage`, oldest first."""
    found = [p.name.split("__")[1:] for p in marker_dir.glob(f"{stage}__*")]
    return sorted(found, key=lambda parts: int(parts[-1]))


def rows_of(outputs: list[DocumentBatch], columns: tuple[str, ...]) -> list[tuple]:
    return sorted(
        row for task in outputs for row in zip(*(task.to_pyarrow()[c].to_pylist() for c in columns), strict=True)
    )


class Run:
    """`execute` on a thread (the main thread changes the cluster); the head node is not used."""

    def __init__(self, cluster: Cluster, stages: list[ProcessingStage], inputs: list[DocumentBatch], **config) -> None:
        self.ended = False
        ray.init(address=cluster.address)  # the executor uses this connection and leaves it open
        self.executor = RayActorPoolExecutor(
            config={"fuse_stages": False, "teardown_timeout_s": 5, **config}, ignore_head_node=True, show_progress=False
        )
        self.outputs: list[DocumentBatch] = []
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(stages, inputs), daemon=True)
        self.thread.start()

    def _run(self, stages: list[ProcessingStage], inputs: list[DocumentBatch]) -> None:
        try:
            self.outputs = self.executor.execute(stages, inputs)
        except BaseException as error:  # re-raised in the test
            self.error = error

    def done(self, stage: str) -> int:
        """Inputs of `stage` whose call returned so far (passed on, filtered or failed)."""
        counters = {c.stage_name: c for c in self.executor.last_report.stages} if self.executor.last_report else {}
        found = counters.get(stage)
        return 0 if found is None else found.tasks_attributed + found.tasks_filtered + found.tasks_failed

    def discarded(self) -> int:
        """Inputs discarded so far because their data was lost (the run noticed the loss)."""
        report = self.executor.last_report
        return sum(c.tasks_discarded for c in report.stages) if report else 0

    def wait_for(self, condition, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.thread.is_alive() and time.monotonic() < deadline, f"run ended or timed out: {self.error}"
            time.sleep(0.05)

    def end(self) -> BaseException | None:
        """Wait for the run (it must not hang); its error, if any."""
        if not self.ended:
            self.ended = True
            self.thread.join(timeout=120)
            ray.shutdown()
        assert not self.thread.is_alive(), "the run did not finish"
        return self.error

    def finish(self) -> list[DocumentBatch]:
        error = self.end()
        if error is not None:
            raise error
        return self.outputs


# -- the tests ---------------------------------------------------------------------------------------------------
def test_losing_the_output_of_a_barrier_reruns_it_with_every_partition(cluster, tmp_path, runs) -> None:
    """A barrier (not a shuffle) ran on a worker and its outputs wait there for the next stage; that
    worker is lost. Every partition runs again, the barrier runs again with all of them, and the
    output equals a clean run's (each row's `total` counts all the rows)."""
    two_workers(cluster)
    count = 6
    hold = tmp_path / "hold__c"
    hold.touch()  # the last stage waits: the barrier's outputs stay on its node, still needed
    run = Run(cluster, [Total(str(tmp_path)), Step("c", 5, str(tmp_path))], tasks(count))
    runs.append(run)
    try:
        run.wait_for(lambda: run.done("total") == count)  # the barrier's call returned
        victim = markers(tmp_path, "total")[0][0]
        remove(cluster, victim)
        run.wait_for(lambda: run.discarded() > 0)  # the run noticed the loss
    finally:
        hold.unlink()
    outputs = run.finish()
    total = count * ROWS
    assert rows_of(outputs, ("k", "total", "c")) == [(k, total, 5 * k) for k in range(total)], (
        "output differs from a clean run"
    )
    calls = markers(tmp_path, "total")
    assert [int(inputs) for _, inputs, _ in calls] == [count, count], "the barrier ran again with every partition"
    assert calls[1][0] != victim
    report = run.executor.last_report
    nodes = report.extra["nodes"]
    assert nodes["lost"] == [victim] and nodes["partitions_recomputed"] == count
    assert report.stage("total").tasks_in == 2 * count and report.stage("c").tasks_out == count
    assert report.balanced, [s.to_dict() for s in report.stages]


def test_a_lost_node_under_on_error_skip_loses_nothing_and_skips_only_the_failure(cluster, tmp_path, runs) -> None:
    """With on_error="skip", a node holding outputs still needed is lost: its partitions are computed
    again (not skipped), so the output equals a clean run's, which skips one unreadable task; the
    ledger and the report hold that task's failure, and nothing else."""
    two_workers(cluster)
    count, bad = 8, "t03"
    hold = tmp_path / "hold__c"
    hold.touch()
    stages = [Step("b", 3, str(tmp_path), fail_on=(bad,)), Step("c", 5, str(tmp_path))]
    # room in the last stage's queue for every task: b finishes while c is held
    run = Run(cluster, stages, tasks(count), on_error="skip", queue_limit_items=2 * count)
    runs.append(run)
    try:  # every task passed b (but the bad one): b's outputs wait on b's worker for the held last stage
        run.wait_for(lambda: run.done("b") == count)
        victim = markers(tmp_path, "b")[0][0]
        remove(cluster, victim)
        run.wait_for(lambda: run.discarded() > 0)
    finally:
        hold.unlink()
    outputs = run.finish()
    kept = [i for i in range(count) if f"t{i:02d}" != bad]
    expected = sorted((k, 3 * k, 5 * k) for i in kept for k in range(i * ROWS, (i + 1) * ROWS))
    assert rows_of(outputs, ("k", "b", "c")) == expected, "output differs from a clean run"
    assert sorted(t.task_id for t in outputs) == [f"t{i:02d}" for i in kept]
    report = run.executor.last_report
    nodes = report.extra["nodes"]
    assert nodes["lost"] == [victim] and nodes["partitions_recomputed"] == count - 1
    ledger = [json.loads(line) for line in Path(report.failure_ledger).read_text().splitlines()]
    assert [(r["stage"], r["task_id"], r["error_type"]) for r in ledger] == [("b", bad, "ValueError")]
    assert [s.tasks_failed for s in report.stages] == [1, 0]
    assert report.stage("b").tasks_in == 2 * count - 1 and report.stage("c").tasks_out == count - 1
    assert report.balanced, [s.to_dict() for s in report.stages]


def test_a_partition_lost_again_after_its_recomputes_fails_the_run_naming_stage_and_node(
    cluster, tmp_path, runs, monkeypatch
) -> None:
    """A partition whose data is lost again after it was recomputed `MAX_RECOMPUTES` times (set to 1
    here, to lose two nodes instead of four) is not recomputed once more: the run fails with a
    `DataLostError` naming the first stage and the node lost last, and does not hang."""
    monkeypatch.setattr(recovery, "MAX_RECOMPUTES", 1)
    two_workers(cluster)
    hold = tmp_path / "hold__b"
    hold.touch()  # a's output stays on the node that made it, needed by the held stage b
    run = Run(cluster, [Step("a", 2, str(tmp_path)), Step("b", 3, str(tmp_path))], tasks(1))
    runs.append(run)
    lost: list[str] = []
    try:
        for attempt in (1, 2):  # the first loss is recomputed (on the other worker), the second is one too many
            run.wait_for(lambda n=attempt: run.done("a") == n)
            lost.append(markers(tmp_path, "a")[-1][0])
            remove(cluster, lost[-1])
    finally:
        hold.unlink()  # without the limit the run would go on (and fail differently: no worker left)
    error = run.end()
    assert len(set(lost)) == 2
    assert isinstance(error, StageExecutionError), error
    assert (error.stage_name, error.error_type) == ("a", "DataLostError")
    assert f"node {lost[1][:12]} left the cluster" in error.error_message
    assert "already recomputed 1 times" in error.error_message and "['t00-" in error.error_message
    report = run.executor.last_report
    assert report.extra["nodes"]["lost"] == lost and report.extra["nodes"]["partitions_recomputed"] == 1
    assert report.status == "failed"
