"""Pipeline: add_stage, build (composites), describe, run, default executor."""

from __future__ import annotations

import sys
import types

import pyarrow as pa
import pytest

from raycurator import Pipeline
from raycurator.backends.base import BaseExecutor
from raycurator.backends.local import LocalExecutor
from raycurator.errors import PipelineConfigError
from raycurator.pipeline import pipeline as pipeline_module
from raycurator.stages import CompositeStage, ProcessingStage, RayStageSpecKeys, Resources, processing_stage
from raycurator.tasks import DocumentBatch, EmptyTask, Task


def docs(task_id: str, texts: list[str]) -> DocumentBatch:
    return DocumentBatch(task_id=task_id, dataset_name="ds", data=pa.table({"text": texts}))


class Emit(ProcessingStage[Task, DocumentBatch]):
    """From the start token, emits `count` one-document batches."""

    _name = "emit"

    def __init__(self, count: int = 4) -> None:
        self.count = count

    def process(self, task):
        return [docs(f"d{i}", [f"text number {i}"]) for i in range(self.count)]


class AddLength(ProcessingStage[DocumentBatch, DocumentBatch]):
    name = "add_length"
    resources = Resources(cpus=2.0)
    batch_size = 2

    def __init__(self) -> None:
        self.batch_sizes: list[int] = []

    def inputs(self):
        return ["data"], ["text"]

    def outputs(self):
        return ["data"], ["text", "length"]

    def process_batch(self, tasks):
        self.batch_sizes.append(len(tasks))
        return super().process_batch(tasks)

    def process(self, task):
        table = task.to_pyarrow()
        lengths = pa.array([len(t) for t in table.column("text").to_pylist()])
        task.data = table.append_column("length", lengths)
        return task


class KeepEven(ProcessingStage[DocumentBatch, DocumentBatch]):
    def process(self, task):
        return task if int(task.task_id[1:]) % 2 == 0 else None


class LengthThenFilter(CompositeStage[DocumentBatch, DocumentBatch]):
    _name = "length_then_filter"

    def __init__(self) -> None:
        self.parts = [AddLength(), KeepEven()]

    def decompose(self):
        return self.parts


class Nested(CompositeStage[DocumentBatch, DocumentBatch]):
    _name = "nested"

    def decompose(self):
        return [KeepEven(), LengthThenFilter()]


class NotAStagePart(CompositeStage[DocumentBatch, DocumentBatch]):
    _name = "bogus"

    def decompose(self):
        return [KeepEven(), "not a stage"]


class Barrier(ProcessingStage[DocumentBatch, DocumentBatch]):
    def ray_stage_spec(self):
        return {RayStageSpecKeys.IS_BARRIER: True}

    def process(self, task):
        return task


# -- add_stage --------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [lambda task: task, AddLength, "AddLength", None, 3])
def test_add_stage_rejects_non_stages(bad):
    pipeline = Pipeline("p1")
    with pytest.raises(TypeError) as info:
        pipeline.add_stage(bad)
    message = str(info.value)
    assert "p1" in message and "ProcessingStage" in message
    assert pipeline.stages == []


def test_constructor_stages_validated():
    with pytest.raises(TypeError, match="ProcessingStage"):
        Pipeline("p", stages=[KeepEven(), object()])


def test_add_stage_appends_and_chains():
    first, second = KeepEven(), AddLength()
    pipeline = Pipeline("p", description="d", config={"k": 1})
    assert pipeline.add_stage(first).add_stage(second) is pipeline
    assert pipeline.stages == [first, second]
    assert (pipeline.name, pipeline.description, pipeline.config) == ("p", "d", {"k": 1})
    assert "KeepEven" in repr(pipeline) and "add_length" in repr(pipeline)


# -- build ------------------------------------------------------------------------------------------
def test_build_empty_pipeline_is_error():
    with pytest.raises(PipelineConfigError, match="empty_one"):
        Pipeline("empty_one").build()


def test_build_decomposes_composites_in_place():
    emit, composite, barrier = Emit(), LengthThenFilter(), Barrier()
    built = Pipeline("p", stages=[emit, composite, barrier]).build()
    assert [s.name for s in built] == ["emit", "add_length", "KeepEven", "Barrier"]
    assert built[0] is emit and built[-1] is barrier
    assert not any(isinstance(s, CompositeStage) for s in built)


def test_build_rejects_nested_composites():
    with pytest.raises(PipelineConfigError) as info:
        Pipeline("p", stages=[Nested()]).build()
    message = str(info.value)
    assert "nested" in message and "length_then_filter" in message


def test_build_rejects_non_stage_parts():
    with pytest.raises(PipelineConfigError, match="bogus"):
        Pipeline("p", stages=[NotAStagePart()]).build()


def test_with_on_composite_parts_applied_at_build():
    composite = LengthThenFilter()
    configured = composite.with_({"add_length": {"batch_size": 3, "resources": Resources(cpus=0.5)}})
    pipeline = Pipeline("p", stages=[configured])
    built = pipeline.build()
    assert (built[0].name, built[0].batch_size, built[0].resources) == ("add_length", 3, Resources(cpus=0.5))
    # neither the original composite's parts nor the part classes changed
    assert composite.parts[0].batch_size == 2
    assert AddLength().batch_size == 2
    assert Pipeline("q", stages=[composite]).build()[0].batch_size == 2


def test_with_on_composite_unknown_part_fails_at_build():
    pipeline = Pipeline("p", stages=[LengthThenFilter().with_({"missing": {"batch_size": 2}})])
    with pytest.raises(PipelineConfigError, match="missing"):
        pipeline.build()


# -- describe ---------------------------------------------------------------------------------------
def test_describe_contents():
    pipeline = Pipeline(
        "describe_me",
        description="adds lengths",
        stages=[Emit(), LengthThenFilter().with_({"KeepEven": {"batch_size": 5}}), Barrier()],
    )
    text = pipeline.describe()
    assert "describe_me" in text
    assert "adds lengths" in text
    assert "Stages: 4" in text
    lines = text.splitlines()
    expected = [("emit", "Emit"), ("add_length", "AddLength"), ("KeepEven", "KeepEven"), ("Barrier", "")]
    for name, cls in expected:
        assert any(name in line and cls in line for line in lines), name
    assert "cpus=2.0" in text
    assert "batch_size: 2" in text and "batch_size: 5" in text
    assert "barrier" in text
    assert "columns=['text', 'length']" in text
    assert "columns=['text']" in text
    # order of stages in the description follows the built order
    assert text.index("add_length") < text.index("KeepEven") < text.index("Barrier")


def test_describe_gpu_resources():
    text = Pipeline("g", stages=[KeepEven().with_(resources=Resources(gpus=1.0))]).describe()
    assert "gpus=1.0" in text


# -- run --------------------------------------------------------------------------------------------
def test_run_with_local_executor():
    add_length = AddLength()
    pipeline = Pipeline("run_me", stages=[Emit(count=5), add_length, KeepEven()])
    out = pipeline.run(executor=LocalExecutor())
    assert [t.task_id for t in out] == ["d0", "d2", "d4"]
    assert out[0].get_columns() == ["text", "length"]
    assert out[0].to_pyarrow().column("length").to_pylist() == [len("text number 0")]
    assert add_length.batch_sizes == [2, 2, 1]
    assert [s.stage_name for s in out[0]._stage_perf] == ["emit", "add_length", "KeepEven"]


def test_run_with_initial_tasks():
    tasks = [docs(f"d{i}", ["abc"]) for i in range(3)]
    out = Pipeline("p", stages=[KeepEven()]).run(LocalExecutor(), initial_tasks=tasks)
    assert out == [tasks[0], tasks[2]]


def test_run_applies_composite_with():
    composite = LengthThenFilter().with_({"add_length": {"batch_size": 4}})
    out = Pipeline("p", stages=[Emit(count=6), composite]).run(executor=LocalExecutor())
    assert [t.task_id for t in out] == ["d0", "d2", "d4"]
    # the executed part is a configured copy; the perf stats show it ran with batches of 4
    assert [s.stage_name for s in out[0]._stage_perf] == ["emit", "add_length", "KeepEven"]
    assert out[0]._stage_perf[1].num_items_processed == 4
    assert out[-1]._stage_perf[1].num_items_processed == 2


def test_run_hands_built_stages_to_executor():
    class Spy(BaseExecutor):
        def execute(self, stages, initial_tasks=None):
            self.got = (list(stages), initial_tasks)
            return ["sentinel"]

    spy = Spy()
    result = Pipeline("p", stages=[LengthThenFilter()]).run(executor=spy, initial_tasks=[EmptyTask])
    assert result == ["sentinel"]
    stages, initial = spy.got
    assert [s.name for s in stages] == ["add_length", "KeepEven"]
    assert initial == [EmptyTask]


def test_run_decorated_function_stage():
    @processing_stage(name="shout_fn_pipeline", batch_size=2)
    def shout(task):
        return docs(task.task_id, [t.upper() for t in task.to_pyarrow().column("text").to_pylist()])

    out = Pipeline("p", stages=[shout]).run(LocalExecutor(), [docs("a", ["hi"]), docs("b", ["yo"])])
    assert [t.to_pyarrow().column("text").to_pylist() for t in out] == [["HI"], ["YO"]]


# -- default executor -------------------------------------------------------------------------------
def test_default_executor_falls_back_to_local(monkeypatch):
    monkeypatch.setitem(sys.modules, "raycurator.backends.ray_actor_pool", None)
    assert isinstance(pipeline_module.default_executor(), LocalExecutor)


def test_default_executor_prefers_ray_actor_pool(monkeypatch):
    fake = types.ModuleType("raycurator.backends.ray_actor_pool")

    class RayActorPoolExecutor(LocalExecutor):
        pass

    fake.RayActorPoolExecutor = RayActorPoolExecutor  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "raycurator.backends.ray_actor_pool", fake)
    assert isinstance(pipeline_module.default_executor(), RayActorPoolExecutor)
    out = Pipeline("p", stages=[KeepEven()]).run(initial_tasks=[docs("d0", ["x"]), docs("d1", ["y"])])
    assert [t.task_id for t in out] == ["d0"]


def test_default_executor_does_not_hide_a_broken_backend(monkeypatch):
    fake = types.ModuleType("raycurator.backends.ray_actor_pool")

    def broken(attr):
        raise ImportError("inner module missing", name="raycurator.backends.ray_actor_pool.adapter")

    fake.__getattr__ = broken  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "raycurator.backends.ray_actor_pool", fake)
    with pytest.raises(ImportError, match="inner module missing"):
        pipeline_module.default_executor()
