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

    def __init__(
        self,
        name: str,
        marker_dir: str,
        resources: Resources | None = None,
        sleep_s: float = 0.0,
        hold_until_nodes: int = 0,
    ) -> None:
        self._name, self.marker_dir, self.sleep_s = name, marker_dir, sleep_s
        self.hold_until_nodes = hold_until_nodes
        self._resources = resources or Resources(cpus=1)

    def setup_on_node(self, node_info=None, worker_metadata=None) -> None:
        Path(self.marker_dir, f"{self.name}__{node_info.node_id}__{uuid.uuid4().hex}").touch()

    #: With `hold_until_nodes` set, `process` waits until batches of this stage have started on
    #: that many nodes (or `HOLD_LIMIT_S` after the first one started, so a broken run ends).
    HOLD_LIMIT_S = 90.0

    def hold(self) -> None:
        if not self.hold_until_nodes:
            return
        running = Path(self.marker_dir, "running")
        running.mkdir(exist_ok=True)
        Path(running, f"{self.name}__{ray.get_runtime_context().get_node_id()}__{os.getpid()}").touch()
        while True:
            markers = [p for p in running.iterdir() if p.name.startswith(f"{self.name}__")]
            nodes = {p.name.split("__")[1] for p in markers}
            first = min(p.stat().st_mtime for p in markers)
            if len(nodes) >= self.hold_until_nodes or time.time() - first > self.HOLD_LIMIT_S:
                return
            time.sleep(0.1)

    def setup(self, worker_metadata=None) -> None:
        node_id = ray.get_runtime_context().get_node_id()
        Path(self.marker_dir, "actors").mkdir(exist_ok=True)
        Path(self.marker_dir, "actors", f"{self.name}__{node_id}__{os.getpid()}").touch()

    def process(self, task: DocumentBatch) -> DocumentBatch:
        time.sleep(self.sleep_s)
        self.hold()
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
    # the first stage's batches wait until batches run on enough nodes: stage by stage, a full
    # pool of 1-CPU actors covers all three; streaming, the second stage holds one CPU and the
    # first must scale out to a second node. The run cannot end before that (or the time limit).
    first = WhereAmI("first", str(tmp_path), hold_until_nodes=3 if mode == "stage_by_stage" else 2)
    stages = [first, WhereAmI("second", str(tmp_path))]
    outputs, report = run(cluster, stages, batches(12), mode=mode)
    assert sorted(o.task_id for o in outputs) == [f"t{i:02d}" for i in range(12)]
    calls = Counter(tuple(p.name.split("__")[:2]) for p in tmp_path.iterdir() if p.is_file())
    node_ids = {node["NodeID"] for node in _alive(cluster)}
    assert len(node_ids) == 3
    assert calls == Counter({(stage, node): 1 for stage in ("first", "second") for node in node_ids})
    placed = {p.name.split("__")[1] for p in (tmp_path / "actors").iterdir() if p.name.startswith("first__")}
    used = {v for o in outputs for v in o.to_pyarrow()["node_first"].to_pylist()}
    if mode == "stage_by_stage":
        assert placed == used == node_ids, "a full pool puts one 1-CPU actor on each node"
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


def key_values(task: DocumentBatch) -> list[tuple[int, int]]:
    table = task.to_pyarrow()
    return list(zip(table["k"].to_pylist(), table["v"].to_pylist(), strict=True))


def test_shuffle_across_nodes_and_the_cluster_outlives_the_run(cluster) -> None:
    # 10 batches of 2 rows over 7 keys: every key's rows, from several batches and nodes, must
    # land in one partition, every row exactly once
    tasks = [DocumentBatch(f"t{i:02d}", "ds", pa.table({"k": [i % 7, (3 * i) % 7], "v": [i, -i]})) for i in range(10)]
    outputs, report = run(cluster, [WhereAmI("pre", "/tmp"), ShuffleStage("k", num_partitions=4)], tasks)
    assert sorted(row for o in outputs for row in key_values(o)) == sorted(row for t in tasks for row in key_values(t))
    partitions_of_key: dict[int, set[str]] = {}
    for output in outputs:
        for key in output.to_pyarrow()["k"].to_pylist():
            partitions_of_key.setdefault(key, set()).add(output.task_id)
    assert all(len(ids) == 1 for ids in partitions_of_key.values()), partitions_of_key
    assert len(outputs) <= 4 and len({o.task_id for o in outputs}) == len(outputs)
    assert report.stage("ShuffleStage").tasks_in == 10
    again, _ = run(cluster, [WhereAmI("pre", "/tmp")], batches(2))
    assert len(again) == 2
