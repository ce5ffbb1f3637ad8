"""RayActorPoolStageAdapter's contract, checked inside real Ray actors."""

from __future__ import annotations

import logging
import os
import sys

import pyarrow as pa
import pytest
import ray
from ray import cloudpickle

from raycurator import DocumentBatch, ProcessingStage
from raycurator.backends.base import BaseStageAdapter, NodeInfo, WorkerMetadata
from raycurator.backends.ray_actor_pool import RayActorPoolStageAdapter, ShuffleStageAdapter
from raycurator.backends.ray_actor_pool.adapter import actor_class_for

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.usefixtures("shared_ray")


class CountingSetupStage(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Records how often setup ran and tags outputs with it."""

    _name = "counting_setup"
    _batch_size = 4

    def __init__(self) -> None:
        self.setup_calls = 0
        self.setup_worker_id: str | None = None
        self.node_calls: list[tuple[str, str]] = []

    def setup(self, worker_metadata: WorkerMetadata | None = None) -> None:
        self.setup_calls += 1
        self.setup_worker_id = worker_metadata.worker_id if worker_metadata else None

    def setup_on_node(self, node_info: NodeInfo | None = None, worker_metadata: WorkerMetadata | None = None) -> None:
        self.node_calls.append((node_info.node_id, worker_metadata.worker_id))

    def process(self, task: DocumentBatch) -> DocumentBatch:
        table = task.to_pyarrow()
        tagged = table.append_column("setup_calls", pa.array([self.setup_calls] * table.num_rows))
        return DocumentBatch(task.task_id, task.dataset_name, tagged, _stage_perf=task._stage_perf)

    def teardown(self) -> None:
        self.setup_calls = -1


class NoBatchSizeStage(ProcessingStage[DocumentBatch, DocumentBatch]):
    _name = "no_batch_size"
    _batch_size = None

    def process(self, task: DocumentBatch) -> DocumentBatch:
        return task


@ray.remote(num_cpus=0)
class Probe:
    """Builds an adapter inside an actor and reports what it saw."""

    def build(self, stage: ProcessingStage) -> dict:
        records: list[str] = []

        class Capture(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                records.append(f"{record.levelname}:{record.getMessage()}")

        handler = Capture()
        logging.getLogger("raycurator").addHandler(handler)
        try:
            self.adapter = RayActorPoolStageAdapter(stage)
        finally:
            logging.getLogger("raycurator").removeHandler(handler)
        context = ray.get_runtime_context()
        return {
            "node_id": self.adapter.node_info.node_id,
            "worker_id": self.adapter.worker_metadata.worker_id,
            "context_node_id": context.get_node_id(),
            "context_worker_id": context.get_worker_id(),
            "setup_calls": getattr(self.adapter.stage, "setup_calls", None),
            "setup_worker_id": getattr(self.adapter.stage, "setup_worker_id", None),
            "batch_size": self.adapter.get_batch_size(),
            "logs": records,
        }

    def setup_on_node(self) -> list:
        self.adapter.setup_on_node()
        return self.adapter.stage.node_calls

    def process(self, tasks: list) -> list:
        return self.adapter.process_batch(tasks)

    def teardown(self) -> int:
        self.adapter.teardown()
        return self.adapter.stage.setup_calls


def _batch(task_id: str, rows: int = 3) -> DocumentBatch:
    return DocumentBatch(task_id, "ds", pa.table({"text": [f"{task_id} doc {i}" for i in range(rows)]}))


def test_adapter_reads_runtime_context_and_runs_setup_once() -> None:
    probe = Probe.remote()
    seen = ray.get(probe.build.remote(CountingSetupStage()))
    assert seen["node_id"] == seen["context_node_id"] and seen["node_id"]
    assert seen["worker_id"] == seen["context_worker_id"] and seen["worker_id"]
    assert seen["setup_calls"] == 1
    assert seen["setup_worker_id"] == seen["worker_id"]
    assert seen["batch_size"] == 4
    assert not [line for line in seen["logs"] if line.startswith("WARNING")]
    ray.kill(probe)


def test_missing_batch_size_warns_naming_the_stage_and_uses_one() -> None:
    probe = Probe.remote()
    seen = ray.get(probe.build.remote(NoBatchSizeStage()))
    assert seen["batch_size"] == 1
    warnings = [line for line in seen["logs"] if line.startswith("WARNING")]
    assert len(warnings) == 1 and "no_batch_size" in warnings[0]
    ray.kill(probe)


def test_setup_on_node_delegates_with_the_stored_context() -> None:
    probe = Probe.remote()
    seen = ray.get(probe.build.remote(CountingSetupStage()))
    calls = ray.get(probe.setup_on_node.remote())
    assert calls == [(seen["node_id"], seen["worker_id"])]
    ray.kill(probe)


def test_process_batch_attaches_perf_stats_and_setup_state_is_visible() -> None:
    probe = Probe.remote()
    ray.get(probe.build.remote(CountingSetupStage()))
    outputs = ray.get(probe.process.remote([_batch("a"), _batch("b", rows=5)]))
    assert [o.task_id for o in outputs] == ["a", "b"]
    for output in outputs:
        assert output.to_pyarrow()["setup_calls"].to_pylist() == [1] * output.num_items
        assert [s.stage_name for s in output._stage_perf] == ["counting_setup"]
        assert output._stage_perf[0].num_items_processed == 8  # rows of the batch (3 + 5), as in NeMo Curator
        assert output._stage_perf[0].process_time >= 0
    assert ray.get(probe.teardown.remote()) == -1
    ray.kill(probe)


def test_actor_class_is_named_after_the_stage(alive_actors) -> None:
    stage = CountingSetupStage()
    cls = actor_class_for(type(stage).__name__, RayActorPoolStageAdapter)
    assert cls.__name__ == "CountingSetupStage" and issubclass(cls, RayActorPoolStageAdapter)
    assert issubclass(actor_class_for("Shuffler", ShuffleStageAdapter), ShuffleStageAdapter)
    handle = ray.remote(cls).options(num_cpus=0).remote(stage)
    info = ray.get(handle.ready.remote())
    assert info["pid"] != os.getpid()
    assert "CountingSetupStage" in repr(handle)
    names = [a["ActorClassName"] for a in alive_actors()]
    assert "CountingSetupStage" in names
    assert "RayActorPoolStageAdapter" not in names
    ray.kill(handle)


def test_base_adapter_is_the_parent() -> None:
    assert issubclass(RayActorPoolStageAdapter, BaseStageAdapter)
