"""Multi-node behaviour on a simulated 3-node cluster (ray.cluster_utils.Cluster)."""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
import ray
from ray import cloudpickle
from ray.cluster_utils import Cluster

from raycurator import DocumentBatch, InsufficientResourcesError, ProcessingStage, Resources
from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
from raycurator.stages.shuffle import ShuffleStage

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster(ray_session) -> Iterator[Cluster]:
    """Head (1 CPU) + two workers (1 CPU each, one with a logical GPU); the driver is not connected."""
    with ray_session.cluster({"num_cpus": 1}, {"num_cpus": 1, "num_gpus": 1}) as cluster:
        yield cluster


class WhereAmI(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Records its node (per batch) and every setup_on_node call (as marker files)."""

    def __init__(self, name: str, marker_dir: str, resources: Resources | None = None, sleep_s: float = 0.0) -> None:
        self._name, self.marker_dir, self.sleep_s = name, marker_dir, sleep_s
        self._resources = resources or Resources(cpus=1)

    def setup_on_node(self, node_info=None, worker_metadata=None) -> None:
        Path(self.marker_dir, f"{self.name}__{node_info.node_id}__{uuid.uuid4().hex}").touch()

    def setup(self, worker_metadata=None) -> None:
        node_id = ray.get_runtime_context().get_node_id()
        Path(self.marker_dir, "actors").mkdir(exist_ok=True)
        Path(self.marker_dir, "actors", f"{self.name}__{node_id}__{os.getpid()}").touch()

    def process(self, task: DocumentBatch) -> DocumentBatch:
        time.sleep(self.sleep_s)
        context = ray.get_runtime_context()
        table = task.to_pyarrow()
        table = table.append_column(f"node_{self.name}", pa.array([context.get_node_id()] * table.num_rows))
        table = table.append_column(f"gpus_{self.name}", pa.array([str(ray.get_gpu_ids())] * table.num_rows))
        table = table.append_column(f"pid_{self.name}", pa.array([os.getpid()] * table.num_rows))
        return DocumentBatch(task.task_id, task.dataset_name, table, task._stage_perf, task._metadata)


def batches(count: int) -> list[DocumentBatch]:
    return [DocumentBatch(f"t{i:02d}", "ds", pa.table({"k": [i, i + 100], "v": [i, i]})) for i in range(count)]


def head_node_id(cluster: Cluster) -> str:
    return cluster.head_node.node_id


def run(cluster: Cluster, stages, tasks, ignore_head_node: bool = False, **config):
    config = {"address": cluster.address, **config}
    executor = RayActorPoolExecutor(config=config, ignore_head_node=ignore_head_node, show_progress=False)
    outputs = executor.execute(stages, tasks)
    assert not ray.is_initialized(), "the executor must disconnect from a cluster it connected to"
    return outputs, executor.last_report


@pytest.mark.parametrize("mode", ["stage_by_stage", "streaming"])
def test_setup_on_node_once_per_node_and_actors_spread(cluster, tmp_path, mode) -> None:
    # enough work (20 x 0.4 s) that streaming scales out before the run ends, even on a busy machine
    stages = [WhereAmI("first", str(tmp_path), sleep_s=0.4), WhereAmI("second", str(tmp_path))]
    outputs, report = run(cluster, stages, batches(20), mode=mode)
    assert sorted(o.task_id for o in outputs) == [f"t{i:02d}" for i in range(20)]
    calls = Counter(tuple(p.name.split("__")[:2]) for p in tmp_path.iterdir() if p.is_file())
    node_ids = {node["NodeID"] for node in _alive(cluster)}
    assert len(node_ids) == 3
    assert calls == Counter({(stage, node): 1 for stage in ("first", "second") for node in node_ids})
    placed = {p.name.split("__")[1] for p in (tmp_path / "actors").iterdir() if p.name.startswith("first__")}
    used = {v for o in outputs for v in o.to_pyarrow()["node_first"].to_pylist()}
    if mode == "stage_by_stage":
        assert placed == node_ids, "a full pool puts one 1-CPU actor on each node"
    assert len(placed) >= 2 and len(used) >= 2, "actors of one stage ran on a single node"
    assert report.balanced


def _alive(cluster: Cluster) -> list[dict]:
    ray.init(address=cluster.address)
    try:
        return [n for n in ray.nodes() if n["Alive"]]
    finally:
        ray.shutdown()


def test_ignore_head_node_keeps_actors_and_setup_off_the_head(cluster, tmp_path) -> None:
    stages = [WhereAmI("only", str(tmp_path), sleep_s=0.3)]
    outputs, _ = run(cluster, stages, batches(8), ignore_head_node=True, mode="stage_by_stage")
    head = head_node_id(cluster)
    used = {v for o in outputs for v in o.to_pyarrow()["node_only"].to_pylist()}
    assert used and head not in used and len(used) == 2
    setup_nodes = {p.name.split("__")[1] for p in tmp_path.iterdir() if p.is_file()}
    assert head not in setup_nodes and len(setup_nodes) == 2


def test_gpu_stage_asks_ray_for_fractional_gpus(cluster, tmp_path) -> None:
    stage = WhereAmI("gpu", str(tmp_path), Resources(cpus=0.5, gpus=0.5))
    outputs, report = run(cluster, [stage], batches(6), mode="stage_by_stage")
    gpu_node = {v for o in outputs for v in o.to_pyarrow()["node_gpu"].to_pylist()}
    assert len(gpu_node) == 1, "GPU actors must all sit on the only node with a GPU"
    assert {v for o in outputs for v in o.to_pyarrow()["gpus_gpu"].to_pylist()} == {"[0]"}
    assert report.stage("gpu").actors_started == 2, "two half-GPU actors fit one GPU"
    with pytest.raises(InsufficientResourcesError, match=r"'too_big'.*2 GPU"):
        run(cluster, [WhereAmI("too_big", str(tmp_path), Resources(gpus=2))], batches(1))


def test_shuffle_across_nodes_and_the_cluster_outlives_the_run(cluster) -> None:
    outputs, report = run(cluster, [WhereAmI("pre", "/tmp"), ShuffleStage("k", num_partitions=4)], batches(10))
    keys = [k for o in outputs for k in o.to_pyarrow()["k"].to_pylist()]
    assert sorted(keys) == sorted([i for i in range(10)] + [i + 100 for i in range(10)])
    assert report.stage("ShuffleStage").tasks_in == 10
    again, _ = run(cluster, [WhereAmI("pre", "/tmp")], batches(2))
    assert len(again) == 2
