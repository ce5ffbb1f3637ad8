"""Stage life cycle on the session's real local Ray, through the executors' public API:
`setup_on_node` failing on a node present at the start (both Ray executors), and actor
teardown that raises or hangs (actor pool)."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

import pyarrow as pa
import pytest
from ray import cloudpickle

from raycurator import DocumentBatch, ProcessingStage
from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
from raycurator.backends.ray_data import RayDataExecutor

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.usefixtures("shared_ray")


def batches(count: int) -> list[DocumentBatch]:
    return [DocumentBatch(f"t{i:02d}", "ds", pa.table({"x": [i]})) for i in range(count)]


class NodeSetupFails(ProcessingStage[DocumentBatch, DocumentBatch]):
    """`setup_on_node` raises; `process` leaves a marker (it must never run)."""

    _name = "node_setup_fails"

    def __init__(self, marker_dir: str) -> None:
        self.marker_dir = marker_dir

    def setup_on_node(self, node_info=None, worker_metadata=None) -> None:
        raise OSError("model cache missing on this node")

    def process(self, task: DocumentBatch) -> DocumentBatch:
        Path(self.marker_dir, f"processed-{task.task_id}").touch()
        return task


def actor_pool(**config) -> RayActorPoolExecutor:
    return RayActorPoolExecutor(config=config, show_progress=False)


@pytest.mark.parametrize("make", [actor_pool, RayDataExecutor], ids=["ray_actor_pool", "ray_data"])
def test_setup_on_node_failing_on_a_node_present_at_the_start_fails_the_run(make, tmp_path, alive_actors) -> None:
    import ray

    node_id = ray.get_runtime_context().get_node_id()
    with pytest.raises(Exception) as info:  # the executors differ in type; the message is checked
        make().execute([NodeSetupFails(str(tmp_path))], batches(3))
    message = str(info.value)
    assert "node_setup_fails" in message and "setup_on_node" in message, message
    assert node_id in message and "model cache missing on this node" in message, message
    assert not list(tmp_path.glob("processed-*")), "a stage whose node set-up failed processed data"


class Teardown(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Marks each actor's teardown, then raises or hangs as told."""

    _name = "bad_teardown"

    def __init__(self, marker_dir: str, how: str) -> None:
        self.marker_dir, self.how = marker_dir, how

    def process(self, task: DocumentBatch) -> DocumentBatch:
        table = task.to_pyarrow().append_column("pid", pa.array([os.getpid()]))
        return DocumentBatch(task.task_id, task.dataset_name, table, task._stage_perf, task._metadata)

    def teardown(self) -> None:
        Path(self.marker_dir, f"teardown-{os.getpid()}").touch()
        if self.how == "raise":
            raise RuntimeError("could not flush the cache")
        time.sleep(3600)


def run_actor_ids(alive_actors) -> set[str]:
    return {a["ActorID"] for a in alive_actors()}


@pytest.mark.timeout(240)
@pytest.mark.parametrize("how", ["raise", "hang"])
def test_a_teardown_that_raises_or_hangs_does_not_fail_the_run_or_leave_actors(
    how, tmp_path, alive_actors, caplog
) -> None:
    before = run_actor_ids(alive_actors)
    executor = actor_pool(teardown_timeout_s=3.0, mode="stage_by_stage")
    with caplog.at_level(logging.WARNING, logger="raycurator"):
        outputs = executor.execute([Teardown(str(tmp_path), how)], batches(6))
    assert sorted(o.task_id for o in outputs) == [f"t{i:02d}" for i in range(6)]
    assert executor.last_report.status == "succeeded"
    pids = {o.to_pyarrow()["pid"][0].as_py() for o in outputs}
    deadline = time.monotonic() + 30  # killed actors leave the GCS's alive list asynchronously
    while run_actor_ids(alive_actors) - before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not run_actor_ids(alive_actors) - before, "the run's actors were left alive"
    assert {str(p) for p in pids} <= {p.name.removeprefix("teardown-") for p in tmp_path.glob("teardown-*")}
    if how == "raise":
        assert any("could not flush the cache" in r.getMessage() for r in caplog.records), caplog.text
    # a hanging teardown sleeps an hour: a run that waited for it would hit the test's timeout
