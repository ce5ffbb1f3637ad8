"""Nodes that join or leave a simulated cluster (ray.cluster_utils.Cluster) during a streaming run."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
import ray
from ray import cloudpickle
from ray.cluster_utils import Cluster

from raycurator import DocumentBatch, FileGroupTask, ProcessingStage, Resources
from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
from raycurator.backends.ray_actor_pool.runtime import PoolRuntime
from raycurator.backends.ray_actor_pool.scheduling.capacity import NodeCapacity
from raycurator.backends.ray_actor_pool.scheduling.items import Item, TaskMeta
from raycurator.backends.ray_actor_pool.scheduling.lineage import LineageTracker
from raycurator.backends.ray_actor_pool.scheduling.operators import StageSpec
from raycurator.backends.ray_actor_pool.scheduling.scheduler import StreamingScheduler
from raycurator.stages.file_partitioning import FilePartitioningStage
from raycurator.stages.shuffle import ShuffleStage
from raycurator.stages.text.filters import ScoreFilter
from raycurator.stages.text.filters.heuristic import WordCountFilter
from raycurator.stages.text.io.reader import JsonlReader
from raycurator.stages.text.io.writer import JsonlWriter

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.slow

ROWS = 2000  # about 1 MB a task: kept in the object store of the node that made it


@pytest.fixture(scope="module")
def cluster(ray_session) -> Iterator[Cluster]:
    """Head (1 CPU) + two workers (1 CPU each); the driver connects by address."""
    with ray_session.cluster({"num_cpus": 1}, {"num_cpus": 1}) as cluster:
        yield cluster


class Step(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Adds column `name` = k * factor; records (node, task) as a marker file after each task."""

    def __init__(self, name: str, factor: int, marker_dir: str, sleep_s: float = 0.0) -> None:
        self._name, self.factor, self.marker_dir, self.sleep_s = name, factor, marker_dir, sleep_s
        self._resources = Resources(cpus=1)

    def setup_on_node(self, node_info=None, worker_metadata=None) -> None:
        if Path(self.marker_dir, "refuse_setup").exists():
            Path(self.marker_dir, f"refused__{self.name}__{node_info.node_id}").touch()
            raise RuntimeError("this node is not fit for the stage")
        Path(self.marker_dir, f"node_setup__{self.name}__{node_info.node_id}").touch()

    def process(self, task: DocumentBatch) -> DocumentBatch:
        time.sleep(self.sleep_s)
        node_id = ray.get_runtime_context().get_node_id()
        deadline = time.monotonic() + 60
        while Path(self.marker_dir, f"hold__{self.name}__{node_id}").exists() and time.monotonic() < deadline:
            time.sleep(0.02)  # the test holds this stage on this node (until another node took work)
        table = task.to_pyarrow()
        table = table.append_column(self.name, pa.compute.multiply(table["k"], self.factor))
        Path(self.marker_dir, f"{self.name}__{node_id}__{task.task_id}__{time.time_ns()}").touch()
        return DocumentBatch(task.task_id, task.dataset_name, table, task._stage_perf, task._metadata)


def tasks(count: int) -> list[DocumentBatch]:
    return [
        DocumentBatch(
            f"t{i:02d}", "ds", pa.table({"k": list(range(i * ROWS, (i + 1) * ROWS)), "pad": ["x" * 500] * ROWS})
        )
        for i in range(count)
    ]


def pipeline(marker_dir: Path, last_sleep_s: float) -> list[Step]:
    return [Step("a", 2, str(marker_dir)), Step("b", 3, str(marker_dir)), Step("c", 5, str(marker_dir), last_sleep_s)]


def rows_of(outputs: list[DocumentBatch]) -> list[tuple]:
    rows = []
    for task in outputs:
        table = task.to_pyarrow()
        rows.extend(zip(*(table[c].to_pylist() for c in ("k", "a", "b", "c")), strict=True))
    return sorted(rows)


def expected_rows(count: int) -> list[tuple]:
    return sorted((k, 2 * k, 3 * k, 5 * k) for k in range(count * ROWS))


def markers(marker_dir: Path, stage: str) -> list[tuple[str, str]]:
    return [tuple(p.name.split("__")[1:3]) for p in marker_dir.glob(f"{stage}__*")]


@ray.remote
def _make_partitions() -> list[FileGroupTask]:
    return [FileGroupTask(f"p{i}", "ds", [f"/data/{i}.jsonl"]) for i in range(3)]


def test_source_partitions_made_on_a_worker_are_copied_to_driver_owned_objects(shared_ray) -> None:
    """Partitions a source stage made on some node must survive that node: the driver re-puts them
    (they are file lists, no payload), while a payload-carrying source is left where it is."""
    node = ray.get_runtime_context().get_node_id()
    made = _make_partitions.remote()
    lineage = LineageTracker(set(), lambda item: item.meta.task_id)
    items = [Item(made, i, TaskMeta(f"p{i}", 1, 0, (f"/data/{i}.jsonl",)), node_id=node) for i in range(3)]
    payload = Item(ray.put([1, 2]), None, TaskMeta("doc", 2, 1 << 20), node_id=node)
    mixed = ray.put(["no payload", "payload"])  # one object: fetching it would pull the payload too
    mixed_items = [
        Item(mixed, 0, TaskMeta("m0", 1, 0), node_id=node),
        Item(mixed, 1, TaskMeta("m1", 1, 9), node_id=node),
    ]
    lineage.admit([*items, payload, *mixed_items])
    scheduler = StreamingScheduler([StageSpec("s")], [NodeCapacity(node, 1.0)], lineage=lineage)
    PoolRuntime([], scheduler)._secure_sources()
    secured = [lineage.sources[f"p{i}"][0] for i in range(3)]
    assert all(item.node_id == "" and item.index is None and item.ref != made for item in secured)
    assert [ray.get(item.ref).data for item in secured] == [[f"/data/{i}.jsonl"] for i in range(3)]
    assert lineage.sources["doc"][0].node_id == node, "a payload must not be pulled through the driver"
    assert [lineage.sources[k][0].node_id for k in ("m0", "m1")] == [node, node], "nor an object holding one"
    assert lineage.unsecured == []


def two_workers(cluster: Cluster) -> None:
    """Earlier tests of the module add and remove nodes: make sure two workers are up."""
    while len(cluster.worker_nodes) < 2:
        cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()


def lose_a_worker_before_the_results_are_fetched(
    cluster: Cluster, monkeypatch, marker_dir: Path, stage: str
) -> list[str]:
    """When the run is done and fetches its results, remove a worker where `stage` ran (whose
    results are stored there; the run must not use the head node). Returns [the removed node]."""
    fetch = PoolRuntime.fetch_results
    victims: list[str] = []

    def lose_a_node_then_fetch(runtime: PoolRuntime):
        if not victims:
            victims.append(next(n for n, _ in markers(marker_dir, stage)))
            cluster.remove_node(next(n for n in cluster.worker_nodes if n.node_id == victims[0]))
        return fetch(runtime)

    monkeypatch.setattr(PoolRuntime, "fetch_results", lose_a_node_then_fetch)
    return victims


class Run:
    """`execute` on a thread (the main thread changes the cluster: `Cluster.add_node` needs it)."""

    def __init__(
        self,
        cluster: Cluster,
        stages: list[ProcessingStage],
        inputs: list[DocumentBatch] | None,
        ignore_head_node: bool = False,
        **config,
    ) -> None:
        ray.init(address=cluster.address)  # the executor uses this connection and leaves it open
        self.executor = RayActorPoolExecutor(
            config={"fuse_stages": False, **config}, ignore_head_node=ignore_head_node, show_progress=False
        )
        self.outputs: list[DocumentBatch] = []
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(stages, inputs), daemon=True)
        self.thread.start()

    def _run(self, stages: list[ProcessingStage], inputs: list[DocumentBatch] | None) -> None:
        try:
            self.outputs = self.executor.execute(stages, inputs)
        except BaseException as error:  # re-raised in the test
            self.error = error

    def wait_for(self, condition, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.thread.is_alive() and time.monotonic() < deadline, f"run ended or timed out: {self.error}"
            time.sleep(0.05)

    def finish(self) -> list[DocumentBatch]:
        self.thread.join(timeout=120)
        ray.shutdown()
        assert not self.thread.is_alive(), "the run did not finish"
        if self.error is not None:
            raise self.error
        return self.outputs


def hold(marker_dir: Path, stage: str, node_ids: list[str]) -> list[Path]:
    """Make `stage` wait on these nodes (see `Step.process`) until the returned files are removed."""
    files = [marker_dir / f"hold__{stage}__{node_id}" for node_id in node_ids]
    for file in files:
        file.touch()
    return files


def test_a_node_that_joins_mid_run_is_set_up_and_used(cluster, tmp_path) -> None:
    run = Run(cluster, pipeline(tmp_path, 0.3), tasks(20))  # the last stage is slow: it wants more CPUs
    run.wait_for(lambda: len(markers(tmp_path, "c")) >= 1)
    # the last stage waits on the nodes already there, so the run cannot end before it used the new one
    held = hold(tmp_path, "c", [node["NodeID"] for node in ray.nodes() if node["Alive"]])
    added = cluster.add_node(num_cpus=1).node_id
    try:
        run.wait_for(lambda: any(node == added for node, _ in markers(tmp_path, "c")))
    finally:
        for file in held:
            file.unlink()
    outputs = run.finish()
    assert rows_of(outputs) == expected_rows(20)
    report = run.executor.last_report
    assert report.balanced and report.extra["nodes"]["added"] == [added]
    assert (tmp_path / f"node_setup__c__{added}").exists(), "setup_on_node did not run on the new node"


def test_a_node_that_joins_but_fails_setup_on_node_is_not_used(cluster, tmp_path) -> None:
    run = Run(cluster, pipeline(tmp_path, 0.5), tasks(10))
    run.wait_for(lambda: len(markers(tmp_path, "c")) >= 1)
    (tmp_path / "refuse_setup").touch()
    held = hold(tmp_path, "c", [node["NodeID"] for node in ray.nodes() if node["Alive"]])
    added = cluster.add_node(num_cpus=1).node_id
    try:  # the run cannot end before the new node's set-up was tried
        run.wait_for(lambda: any(tmp_path.glob(f"refused__*__{added}")))
    finally:
        for file in held:
            file.unlink()
    outputs = run.finish()
    assert rows_of(outputs) == expected_rows(10), "the run went on without the node"
    nodes = run.executor.last_report.extra["nodes"]
    assert nodes["added"] == [] and nodes["refused"] == [added], "the failed set-up was not seen"
    assert not any(node == added for stage in "abc" for node, _ in markers(tmp_path, stage))


@pytest.mark.parametrize("fused", [False, True], ids=["separate", "fused"])
def test_a_lost_node_loses_nothing_and_its_data_is_recomputed(cluster, tmp_path, fused) -> None:
    head = cluster.head_node.node_id
    count = 24
    two_workers(cluster)  # one to lose, one to go on with
    run = Run(cluster, pipeline(tmp_path, 0.3), tasks(count), fuse_stages=fused)
    # a worker node where the last stage already produced results (they die with it)

    def finished_results_on_a_worker() -> str | None:
        # a worker where the last stage began a second batch, so its first result is stored there
        counts = Counter(n for n, _ in markers(tmp_path, "c") if n != head)
        return next((node for node, n in counts.items() if n >= 2), None)

    run.wait_for(lambda: finished_results_on_a_worker() is not None)
    victim_id = finished_results_on_a_worker()
    cluster.remove_node(next(n for n in cluster.worker_nodes if n.node_id == victim_id))
    outputs = run.finish()
    assert rows_of(outputs) == expected_rows(count), "output differs from a clean run"
    assert sorted(t.task_id for t in outputs) == [f"t{i:02d}" for i in range(count)]
    report = run.executor.last_report
    nodes = report.extra["nodes"]
    assert nodes["lost"] == [victim_id] and nodes["partitions_recomputed"] > 0
    assert report.balanced, [s.to_dict() for s in report.stages]
    # every recomputed partition (one source task each) went through the first stage again
    assert report.stage("a").tasks_in == count + nodes["partitions_recomputed"]
    assert nodes["results_discarded"] + sum(s.tasks_discarded for s in report.stages) > 0


def test_stage_by_stage_a_lost_node_loses_nothing(cluster, tmp_path) -> None:
    """Stage by stage, the last stage's results and the earlier stages' outputs stored on a lost
    worker are made again; the output equals a clean run's."""
    head = cluster.head_node.node_id
    count = 16
    two_workers(cluster)
    run = Run(cluster, pipeline(tmp_path, 0.3), tasks(count), mode="stage_by_stage")

    def finished_results_on_a_worker() -> str | None:
        counts = Counter(n for n, _ in markers(tmp_path, "c") if n != head)
        return next((node for node, n in counts.items() if n >= 2), None)

    run.wait_for(lambda: finished_results_on_a_worker() is not None, timeout=120)
    victim_id = finished_results_on_a_worker()
    cluster.remove_node(next(n for n in cluster.worker_nodes if n.node_id == victim_id))
    outputs = run.finish()
    assert rows_of(outputs) == expected_rows(count), "output differs from a clean run"
    assert sorted(t.task_id for t in outputs) == [f"t{i:02d}" for i in range(count)]
    report = run.executor.last_report
    assert report.mode == "stage_by_stage"
    assert report.extra["nodes"]["lost"] == [victim_id]
    assert report.balanced, [s.to_dict() for s in report.stages]


class MarkedPartitioning(FilePartitioningStage):
    """The reader's partitioning stage, leaving a marker named after the node it ran on."""

    def __init__(self, marker_dir: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.marker_dir = marker_dir

    def process(self, task):
        Path(self.marker_dir, f"partitioned__{ray.get_runtime_context().get_node_id()}").touch()
        return super().process(task)


class Slow(ProcessingStage[DocumentBatch, DocumentBatch]):
    _name = "slow"

    def process(self, task: DocumentBatch) -> DocumentBatch:
        time.sleep(0.3)
        return task


def test_a_writer_pipeline_survives_losing_the_node_that_made_its_partitions(cluster, tmp_path) -> None:
    """The CLI's shape (partitioning -> read -> filter -> write, nothing collected): the node where the
    source partitions were made is lost part-way; the written output equals a clean run's."""
    two_workers(cluster)
    data, out, marks = tmp_path / "in", tmp_path / "out", tmp_path / "marks"
    data.mkdir()
    marks.mkdir()
    for f in range(12):
        lines = [json.dumps({"id": f"{f}-{d}", "text": " ".join(["word"] * (d % 9 + 1))}) for d in range(50)]
        (data / f"part-{f:02d}.jsonl").write_text("\n".join(lines) + "\n")
    reader = JsonlReader(str(data), files_per_partition=1)
    partitioning = MarkedPartitioning(str(marks), file_paths=str(data), files_per_partition=1)
    stage_list = [
        partitioning,
        reader.decompose()[1],
        Slow(),
        ScoreFilter(WordCountFilter(min_words=3)),
        JsonlWriter(str(out)),
    ]
    # partitions made on a worker (not in the driver, where they could not be lost)
    run = Run(cluster, stage_list, None, ignore_head_node=True, return_results=False, source_on_driver=False)
    run.wait_for(lambda: len(list(out.glob("*.jsonl"))) >= 3 and any(marks.iterdir()))
    victim_id = next(marks.iterdir()).name.split("__")[1]
    cluster.remove_node(next(n for n in cluster.worker_nodes if n.node_id == victim_id))
    run.finish()
    written = sorted(json.loads(line)["id"] for p in out.glob("*.jsonl") for line in p.read_text().splitlines())
    assert written == sorted(f"{f}-{d}" for f in range(12) for d in range(50) if d % 9 + 1 >= 3)
    assert not list(out.glob(".*.tmp")), "temporary files left behind"
    report = run.executor.last_report
    assert report.extra["nodes"]["lost"] == [victim_id] and report.balanced


def test_a_lost_node_after_a_shuffle_ran_restarts_the_shuffle_and_loses_nothing(cluster, tmp_path, monkeypatch) -> None:
    """Data lost after an all-inputs stage (a shuffle) consumed it: the shuffle runs again with
    every partition it took in, and the output equals a clean run's. The node goes when every
    stage is done and the results (each made from all partitions) sit on the workers."""
    two_workers(cluster)
    victims = lose_a_worker_before_the_results_are_fetched(cluster, monkeypatch, tmp_path, "b")
    count = 12
    stages = [Step("a", 2, str(tmp_path)), ShuffleStage("k", num_partitions=6), Step("b", 3, str(tmp_path))]
    run = Run(cluster, stages, tasks(count), ignore_head_node=True)
    outputs = run.finish()
    rows = sorted(
        row
        for task in outputs
        for row in zip(*(task.to_pyarrow()[c].to_pylist() for c in ("k", "a", "b")), strict=True)
    )
    assert rows == sorted((k, 2 * k, 3 * k) for k in range(count * ROWS)), "output differs from a clean run"
    report = run.executor.last_report
    assert report.extra["nodes"]["lost"] == victims and report.balanced
    assert report.extra["nodes"]["partitions_recomputed"] == count, "the shuffle took in every partition"
    assert report.stage("ShuffleStage").tasks_in == 2 * count


def test_results_lost_after_the_last_stage_are_made_again_before_they_are_returned(
    cluster, tmp_path, monkeypatch
) -> None:
    """A node lost between the end of processing and the fetch of the results (the narrowest
    window): the results it held are recomputed, and `execute` returns every one of them."""
    two_workers(cluster)
    victims = lose_a_worker_before_the_results_are_fetched(cluster, monkeypatch, tmp_path, "c")
    count = 8
    run = Run(cluster, pipeline(tmp_path, 0.0), tasks(count), ignore_head_node=True, fuse_stages=True)
    outputs = run.finish()
    assert victims
    assert rows_of(outputs) == expected_rows(count), "output differs from a clean run"
    nodes = run.executor.last_report.extra["nodes"]
    assert nodes["lost"] == victims and nodes["results_discarded"] > 0 and nodes["partitions_recomputed"] > 0
    assert run.executor.last_report.balanced
