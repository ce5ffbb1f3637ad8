"""RayDataExecutor never hangs: pipelines are fitted to the cluster, and a stalled run stops with an error."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
import ray
from ray import cloudpickle

from raycurator import DocumentBatch, PipelineConfigError, ProcessingStage
from raycurator.backends.ray_cluster import ClusterNode
from raycurator.backends.ray_data import RayDataConfig, RayDataExecutor
from raycurator.backends.ray_data.executor import PipelineStalledError
from raycurator.backends.ray_data.plan import fit_to_cluster, plan_stages
from raycurator.stages.text.io.reader import JsonlReader
from raycurator.stages.text.io.writer import JsonlWriter

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.usefixtures("shared_ray")


class Tag(ProcessingStage[DocumentBatch, DocumentBatch]):
    """A small map stage."""

    def __init__(self, number: int) -> None:
        self._name = f"tag{number}"

    def process(self, task: DocumentBatch) -> DocumentBatch:
        return task


class NodeTag(Tag):
    """A small map stage with per-node and per-worker set-up (as a model-loading stage has)."""

    def setup_on_node(self, node_info=None, worker_metadata=None) -> None:
        self.node_ready = True

    def setup(self, worker_metadata=None) -> None:
        self.ready = True


def issue_pipeline(tmp_path: Path) -> tuple[list[ProcessingStage], Path]:
    data = tmp_path / "in"
    data.mkdir(parents=True)
    for f in range(6):
        rows = [json.dumps({"id": f"{f}-{d}", "text": "x"}) + "\n" for d in range(5)]
        (data / f"p{f}.jsonl").write_text("".join(rows))
    out = tmp_path / "out"
    reader = JsonlReader(str(data), files_per_partition=2)
    stages = [*reader.decompose(), Tag(1), NodeTag(2), Tag(3), JsonlWriter(str(out))]
    return stages, out


def cpus_free_again(total: float = 2.0, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ray.available_resources().get("CPU", 0) >= total:
            return True
        time.sleep(0.5)
    return False


def test_the_issue_pipeline_finishes_on_two_cpus(tmp_path) -> None:
    assert ray.cluster_resources()["CPU"] == 2
    stages, out = issue_pipeline(tmp_path)
    executor = RayDataExecutor(config={"stall_timeout_s": 60})
    start = time.monotonic()
    results = executor.execute(stages)
    assert time.monotonic() - start < 60
    assert len(results) == 3
    listed = json.loads((out / "_SUCCESS").read_text())
    assert listed["total_rows"] == 30 and len(listed["files"]) == 3
    plans = {p.stage.name: p for p in executor.last_plan}
    assert "file_partitioning" not in plans, "the listing runs on the driver"
    assert plans["tag2"].use_actors and plans["jsonl_writer"].use_actors
    actor_cpus = plans["tag2"].num_cpus + plans["jsonl_writer"].num_cpus
    assert actor_cpus + max(p.num_cpus for p in plans.values() if not p.use_actors) <= 2
    assert cpus_free_again()


def test_a_stalled_run_stops_with_an_error_naming_stages_and_resources(tmp_path) -> None:
    stages, out = issue_pipeline(tmp_path)
    # without the planning, two actor pools take both CPUs and the partitioning task never runs
    config = {"fit_to_cluster": False, "source_on_driver": False, "stall_timeout_s": 6}
    start = time.monotonic()
    with pytest.raises(PipelineStalledError) as caught:
        RayDataExecutor(config=config).execute(stages)
    assert time.monotonic() - start < 60
    message = str(caught.value)
    assert "no progress for 6 s" in message and "2 CPU(s)" in message
    for name in ("file_partitioning", "tag2: actors", "jsonl_writer: actors"):
        assert name in message
    assert not (out / "_SUCCESS").exists()
    assert cpus_free_again(), "the stalled run's actors must be released"
    stages, out = issue_pipeline(tmp_path / "again")  # and the cluster is usable again
    assert len(RayDataExecutor().execute(stages)) == 3


@pytest.mark.slow
def test_slow_work_is_not_a_stall(tmp_path) -> None:
    class Sleepy(Tag):
        def process(self, task: DocumentBatch) -> DocumentBatch:
            time.sleep(12)
            return task

    stages, _ = issue_pipeline(tmp_path)
    stages[3] = Sleepy(1)
    results = RayDataExecutor(config={"stall_timeout_s": 8}).execute(stages)  # each batch runs longer than that
    assert len(results) == 3


def test_fit_to_cluster_scales_requests_only_when_needed() -> None:
    nodes = [ClusterNode("n", 2.0, 0.0, True)]
    stages = [Tag(1), NodeTag(2), Tag(3), JsonlWriter("/tmp/unused-out")]
    plans = plan_stages(stages, nodes, RayDataConfig(), from_start_token=False)
    fitted = fit_to_cluster(plans, 2.0)
    by_name = {p.stage.name: p for p in fitted}
    assert by_name["tag2"].num_cpus == by_name["jsonl_writer"].num_cpus == 0.5
    assert by_name["tag2"].asked_cpus == 1.0 and by_name["tag1"].num_cpus == 1.0
    assert by_name["tag2"].max_actors == by_name["jsonl_writer"].max_actors == 1  # 0.5 + 0.5 CPU + a 1-CPU task
    assert fit_to_cluster(plans, 8.0) == plans
    assert "(asked 1.0)" in by_name["tag2"].describe()


def test_stall_timeout_is_validated() -> None:
    with pytest.raises(PipelineConfigError, match="stall_timeout_s"):
        RayDataExecutor(config={"stall_timeout_s": 0})
    assert RayDataExecutor(config={"stall_timeout_s": None}).options.stall_timeout_s is None
