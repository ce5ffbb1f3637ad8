"""The actor-pool runtime's stall guard on real Ray: a run in which no call returns for
`stall_timeout_s` seconds (not counting time in which actors start) stops with an error naming
the stages and resources."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pyarrow as pa
import pytest
from ray import cloudpickle

from raycurator import DocumentBatch, PipelineConfigError, ProcessingStage, Resources
from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
from raycurator.errors import PipelineStalledError

cloudpickle.register_pickle_by_value(sys.modules[__name__])


class Wait(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Sleeps `sleep_s` a task; with `until`, first waits (up to a minute) for that file to exist."""

    def __init__(self, name: str, sleep_s: float = 0.0, until: str | None = None) -> None:
        self._name, self.sleep_s, self.until = name, sleep_s, until
        self._resources = Resources(cpus=1)

    def num_workers(self) -> int:
        return 1

    def process(self, task: DocumentBatch) -> DocumentBatch:
        deadline = time.monotonic() + 60
        while self.until is not None and not Path(self.until).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(self.sleep_s)
        return task


def tasks(count: int) -> list[DocumentBatch]:
    return [DocumentBatch(f"t{i}", "ds", pa.table({"k": [i]})) for i in range(count)]


def test_a_stage_that_never_returns_stops_the_run_after_stall_timeout_s(shared_ray, tmp_path, alive_actors) -> None:
    release = tmp_path / "release"  # never created while the run goes on: the stage hangs
    stages = [Wait("first"), Wait("stuck", until=str(release)), Wait("last")]
    executor = RayActorPoolExecutor(
        config={"stall_timeout_s": 2, "teardown_timeout_s": 1, "fuse_stages": False}, show_progress=False
    )
    start = time.monotonic()
    try:
        with pytest.raises(PipelineStalledError) as caught:
            executor.execute(stages, tasks(3))
        elapsed = time.monotonic() - start
    finally:
        release.touch()
    message = str(caught.value)
    assert "no progress for 2 s" in message and "Cluster: 2 CPU(s), 0 GPU(s) on 1 node(s)" in message
    assert "stuck (1 CPU, 0 GPU a worker): 1 call(s) in flight" in message, message
    assert "last (1 CPU, 0 GPU a worker)" in message and "first (" not in message, "only unfinished stages"
    assert elapsed < 30, f"the guard took {elapsed:.0f} s"
    report = executor.last_report
    assert report.status == "failed" and report.stage("first").tasks_out == 3
    assert not [a for a in alive_actors() if report.run_id in (a.get("Name") or "")], "the run's actors were left"


def test_slow_batches_that_keep_returning_are_not_a_stall(shared_ray) -> None:
    """Five batches of 0.6 s (one worker) take longer than the 1.5 s limit together; each one returning
    is progress."""
    executor = RayActorPoolExecutor(config={"stall_timeout_s": 1.5}, show_progress=False)
    outputs = executor.execute([Wait("slow", sleep_s=0.6)], tasks(5))
    assert sorted(t.task_id for t in outputs) == [f"t{i}" for i in range(5)]
    busy = executor.last_report.stage("slow").busy_s
    assert busy >= 2.9, busy


@pytest.mark.parametrize("value", [0, -1, True, "10"])
def test_stall_timeout_s_is_validated(value) -> None:
    with pytest.raises(PipelineConfigError, match="stall_timeout_s"):
        RayActorPoolExecutor(config={"stall_timeout_s": value})
