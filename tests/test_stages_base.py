"""The stage API: declaration styles, `with_`, processing, validation, metrics, registry, composites."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa
import pytest

from raycurator.errors import PipelineConfigError, StageInputError
from raycurator.stages import (
    CompositeStage,
    ProcessingStage,
    RayStageSpecKeys,
    Resources,
    get_stage_class,
    list_stage_classes,
    processing_stage,
)
from raycurator.tasks import DocumentBatch, EmptyTask, FileGroupTask, Task


def batch(task_id: str = "t0", n: int = 2, files: list[str] | None = None, **columns) -> DocumentBatch:
    data = columns or {"text": [f"doc {i}" for i in range(n)]}
    task = DocumentBatch(task_id=task_id, dataset_name="ds", data=pa.table(data))
    if files:
        task._metadata["source_files"] = list(files)
    return task


# -- the declaration styles -------------------------------------------------------------------------
class SeedClassAttrs(ProcessingStage[DocumentBatch, DocumentBatch]):
    _name = "seed_class"
    _resources = Resources(cpus=2.0)
    _batch_size = 4

    def process(self, task):
        return task


class SeedInit(ProcessingStage[DocumentBatch, DocumentBatch]):
    def __init__(self, label: str = "seed_init") -> None:
        self._name = label
        self._resources = Resources(cpus=3.0)
        self._batch_size = 5

    def process(self, task):
        return task


class PlainClassAttrs(ProcessingStage[DocumentBatch, DocumentBatch]):
    name = "plain"
    resources = Resources(cpus=0.5)
    batch_size = 6

    def process(self, task):
        return task


@dataclass
class DataclassFields(ProcessingStage[DocumentBatch, DocumentBatch]):
    text_field: str = "text"
    name: str = "dataclass"
    resources: Resources = field(default_factory=lambda: Resources(cpus=1.5))
    batch_size: int = 7

    def process(self, task):
        return task


@dataclass(frozen=True)
class FrozenDataclass(ProcessingStage[DocumentBatch, DocumentBatch]):
    name: str = "frozen"
    batch_size: int = 8

    def process(self, task):
        return task


class Undeclared(ProcessingStage[DocumentBatch, DocumentBatch]):
    def process(self, task):
        return task


STYLES = [
    (SeedClassAttrs, "seed_class", Resources(cpus=2.0), 4),
    (SeedInit, "seed_init", Resources(cpus=3.0), 5),
    (PlainClassAttrs, "plain", Resources(cpus=0.5), 6),
    (DataclassFields, "dataclass", Resources(cpus=1.5), 7),
    (FrozenDataclass, "frozen", Resources(), 8),
    (Undeclared, "Undeclared", Resources(), 1),
]
STYLE_IDS = [cls.__name__ for cls, *_ in STYLES]


@pytest.mark.parametrize(("cls", "name", "resources", "batch_size"), STYLES, ids=STYLE_IDS)
def test_declared_attributes_readable(cls, name, resources, batch_size):
    stage = cls()
    assert stage.name == name
    assert stage.resources == resources
    assert stage.batch_size == batch_size
    info = stage.describe()
    assert (info["name"], info["class"], info["batch_size"]) == (name, cls.__name__, batch_size)
    assert info["resources"] == resources.to_dict()
    assert name in repr(stage)


@pytest.mark.parametrize(("cls", "name", "resources", "batch_size"), STYLES, ids=STYLE_IDS)
def test_with_returns_configured_copy(cls, name, resources, batch_size):
    stage = cls()
    new_resources = Resources(cpus=4.0, gpus=1.0)
    clone = stage.with_(name="renamed", resources=new_resources, batch_size=11)
    assert clone is not stage
    assert type(clone) is cls
    assert (clone.name, clone.resources, clone.batch_size) == ("renamed", new_resources, 11)
    assert clone.describe()["name"] == "renamed"
    # the original is unchanged
    assert (stage.name, stage.resources, stage.batch_size) == (name, resources, batch_size)
    # a fresh instance is unchanged too (nothing was written on the class)
    assert cls().name == name and cls().batch_size == batch_size


@pytest.mark.parametrize(("cls", "name", "resources", "batch_size"), STYLES, ids=STYLE_IDS)
def test_with_partial_keeps_other_settings(cls, name, resources, batch_size):
    clone = cls().with_(batch_size=3)
    assert (clone.name, clone.resources, clone.batch_size) == (name, resources, 3)
    clone2 = clone.with_(name="n2")
    assert (clone2.name, clone2.batch_size) == ("n2", 3)
    assert clone.name == name


def test_with_copies_state_deeply():
    @dataclass
    class WithState(ProcessingStage[DocumentBatch, DocumentBatch]):
        words: list[str] = field(default_factory=lambda: ["a"])

        def process(self, task):
            return task

    stage = WithState()
    clone = stage.with_(name="other")
    clone.words.append("b")
    assert stage.words == ["a"]
    assert clone.words == ["a", "b"]


def test_setting_attributes_on_instance():
    stage = SeedClassAttrs()
    stage.name = "x"
    stage.batch_size = 2
    stage.resources = Resources(cpus=9)
    assert (stage.name, stage.batch_size, stage.resources.cpus) == ("x", 2, 9)
    assert SeedClassAttrs().name == "seed_class"


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_with_rejects_bad_batch_size(bad):
    with pytest.raises(PipelineConfigError, match="batch_size"):
        SeedClassAttrs().with_(batch_size=bad)


def test_with_rejects_non_resources():
    with pytest.raises(TypeError, match="Resources"):
        SeedClassAttrs().with_(resources={"cpus": 2})  # type: ignore[arg-type]


def test_defaults_of_base_stage():
    stage = Undeclared()
    assert stage.num_workers() is None
    assert stage.inputs() == ([], []) and stage.outputs() == ([], [])
    assert stage.ray_stage_spec() == {}
    assert not stage.is_barrier
    assert stage.describe()["barrier"] is False
    # life-cycle hooks are no-ops that accept their arguments
    stage.setup_on_node(None, None)
    stage.setup(None)
    stage.teardown()


def test_barrier_from_ray_stage_spec():
    class Barrier(ProcessingStage[DocumentBatch, DocumentBatch]):
        def ray_stage_spec(self):
            return {RayStageSpecKeys.IS_BARRIER: True}

        def process(self, task):
            return task

    assert Barrier().is_barrier
    assert Barrier().describe()["barrier"] is True


def test_process_is_abstract():
    class NoProcess(ProcessingStage[DocumentBatch, DocumentBatch]):
        pass

    with pytest.raises(TypeError):
        NoProcess()  # type: ignore[abstract]


# -- process_batch ----------------------------------------------------------------------------------
class SplitRows(ProcessingStage[DocumentBatch, DocumentBatch]):
    """1→N: one output per row; rows whose text is 'drop' are skipped (None in the list)."""

    def process(self, task):
        table = task.to_pyarrow()
        out = []
        for i in range(table.num_rows):
            row = table.slice(i, 1)
            if row.column("text")[0].as_py() == "drop":
                out.append(None)
            else:
                out.append(DocumentBatch(task_id=f"{task.task_id}-{i}", dataset_name="ds", data=row))
        return out


class DropEmpty(ProcessingStage[DocumentBatch, DocumentBatch]):
    def process(self, task):
        return task if task.num_items else None


def test_process_batch_one_to_many_flattens():
    outputs = SplitRows().process_batch([batch("a", n=3), batch("b", n=2)])
    assert [t.task_id for t in outputs] == ["a-0", "a-1", "a-2", "b-0", "b-1"]
    assert all(t.num_items == 1 for t in outputs)


def test_process_batch_drops_none_inside_lists():
    task = batch("a", text=["keep", "drop", "keep2"])
    outputs = SplitRows().process_batch([task])
    assert [t.to_pyarrow().column("text")[0].as_py() for t in outputs] == ["keep", "keep2"]


def test_process_batch_filters_none_results():
    empty = DocumentBatch(task_id="e", dataset_name="ds", data=pa.table({"text": pa.array([], pa.string())}))
    full = batch("f", n=2)
    stage = DropEmpty()
    outputs = stage.process_batch([empty, full, empty])
    assert outputs == [full]
    assert stage._consume_output_counts() == [0, 1, 0]
    assert stage._consume_output_counts() is None  # consumed


def test_process_batch_empty_list():
    assert DropEmpty().process_batch([]) == []


# -- validate_input ---------------------------------------------------------------------------------
class NeedsText(ProcessingStage[DocumentBatch, DocumentBatch]):
    _name = "needs_text"

    def inputs(self):
        return ["data"], ["text", "id"]

    def outputs(self):
        return ["data"], ["text", "id", "length"]

    def process(self, task):
        return task


def test_validate_input_accepts_good_task():
    assert NeedsText().validate_input(batch(text=["a"], id=[1]))


def test_validate_input_missing_column_names_stage_task_and_files():
    task = batch("task-42", files=["s3://bucket/part-0.jsonl"], text=["a"])
    with pytest.raises(StageInputError) as info:
        NeedsText().validate_input(task)
    message = str(info.value)
    assert "needs_text" in message
    assert "task-42" in message
    assert "'id'" in message
    assert "s3://bucket/part-0.jsonl" in message
    assert isinstance(info.value, ValueError)


def test_validate_input_missing_attribute():
    class NeedsAttr(ProcessingStage[Task, Task]):
        _name = "needs_attr"

        def inputs(self):
            return ["reader_config"], []

        def process(self, task):
            return task

    NeedsAttr().validate_input(FileGroupTask(task_id="fg", dataset_name="d", data=["a"]))
    with pytest.raises(StageInputError, match=r"needs_attr.*doc-7.*reader_config"):
        NeedsAttr().validate_input(batch("doc-7"))


def test_validate_input_columns_on_task_without_columns():
    task = FileGroupTask(task_id="fg-1", dataset_name="d", data=["in/a.jsonl"])
    with pytest.raises(StageInputError) as info:
        NeedsText().validate_input(task)
    message = str(info.value)
    assert "needs_text" in message and "fg-1" in message and "FileGroupTask" in message


def test_process_batch_validates_each_input():
    stage = NeedsText()
    good = batch("good", text=["a"], id=[1])
    bad = batch("bad-1", text=["a"])
    with pytest.raises(StageInputError, match="bad-1"):
        stage.process_batch([good, bad])


def test_describe_lists_inputs_and_outputs():
    info = NeedsText().describe()
    assert info["inputs"] == [["data"], ["text", "id"]]
    assert info["outputs"] == [["data"], ["text", "id", "length"]]


# -- custom metrics ---------------------------------------------------------------------------------
def test_log_metrics_summed_and_consumed():
    class Counting(ProcessingStage[DocumentBatch, DocumentBatch]):
        def process(self, task):
            self._log_metric("rows", task.num_items)
            self._log_metrics({"calls": 1, "rows": 0})
            return task

    stage = Counting()
    stage.process_batch([batch(n=2), batch(n=3)])
    assert stage._consume_custom_metrics() == {"rows": 5.0, "calls": 2.0}
    assert stage._consume_custom_metrics() == {}


def test_log_metric_values_are_floats():
    stage = Undeclared()
    stage._log_metric("n", 3)
    metrics = stage._consume_custom_metrics()
    assert metrics == {"n": 3.0} and isinstance(metrics["n"], float)


def test_log_metrics_on_frozen_stage():
    stage = FrozenDataclass()
    stage._log_metric("x", 1)
    assert stage._consume_custom_metrics() == {"x": 1.0}


# -- registry ---------------------------------------------------------------------------------------
class RegistryProbeStage(ProcessingStage[DocumentBatch, DocumentBatch]):
    def process(self, task):
        return task


def test_get_stage_class_by_name_and_qualified_name():
    assert get_stage_class("RegistryProbeStage") is RegistryProbeStage
    assert get_stage_class(f"{__name__}.RegistryProbeStage") is RegistryProbeStage
    assert list_stage_classes()["RegistryProbeStage"] is RegistryProbeStage


def test_builtin_stage_registered():
    from raycurator.stages.shuffle import ShuffleStage

    assert get_stage_class("ShuffleStage") is ShuffleStage


def test_unknown_stage_lists_choices():
    with pytest.raises(PipelineConfigError) as info:
        get_stage_class("NoSuchStageAnywhere")
    message = str(info.value)
    assert "NoSuchStageAnywhere" in message
    assert "RegistryProbeStage" in message


def test_abstract_classes_not_registered():
    class AbstractMiddle(ProcessingStage[DocumentBatch, DocumentBatch]):
        pass

    with pytest.raises(PipelineConfigError):
        get_stage_class("AbstractMiddle")
    assert "ProcessingStage" not in list_stage_classes()
    assert "CompositeStage" not in list_stage_classes()


def _make_twin(marker: int) -> type:
    class TwinNamedStage(ProcessingStage[DocumentBatch, DocumentBatch]):
        value = marker

        def process(self, task):
            return task

    return TwinNamedStage


class TwinNamedStage(ProcessingStage[DocumentBatch, DocumentBatch]):
    value = 0

    def process(self, task):
        return task


def test_ambiguous_stage_name():
    twin = _make_twin(1)
    with pytest.raises(PipelineConfigError) as info:
        get_stage_class("TwinNamedStage")
    message = str(info.value)
    assert "ambiguous" in message
    assert f"{__name__}.TwinNamedStage" in message
    assert f"{__name__}._make_twin.<locals>.TwinNamedStage" in message
    # the qualified names resolve
    assert get_stage_class(f"{__name__}.TwinNamedStage") is TwinNamedStage
    assert get_stage_class(f"{__name__}._make_twin.<locals>.TwinNamedStage") is twin
    assert "TwinNamedStage" not in list_stage_classes()


# -- @processing_stage ------------------------------------------------------------------------------
def test_processing_stage_decorator():
    @processing_stage(name="upper_case_fn", resources=Resources(cpus=0.25), batch_size=3)
    def upper(task: DocumentBatch) -> DocumentBatch:
        """Upper-case the text."""
        frame = task.to_pandas().copy()
        frame["text"] = frame["text"].str.upper()
        return DocumentBatch(task_id=task.task_id, dataset_name=task.dataset_name, data=frame)

    assert isinstance(upper, ProcessingStage)
    assert (upper.name, upper.resources, upper.batch_size) == ("upper_case_fn", Resources(cpus=0.25), 3)
    out = upper.process_batch([batch(text=["ab", "c"])])
    assert out[0].to_pandas()["text"].tolist() == ["AB", "C"]
    assert type(upper).__doc__ == "Upper-case the text."
    clone = upper.with_(name="shout", batch_size=9)
    assert (clone.name, clone.batch_size, upper.name) == ("shout", 9, "upper_case_fn")
    assert clone.process_batch([batch(text=["x"])])[0].to_pandas()["text"].tolist() == ["X"]


def test_processing_stage_decorator_filters_and_fans_out():
    @processing_stage(name="fan_or_drop_fn")
    def fan(task: DocumentBatch):
        if task.num_items == 0:
            return None
        return [task, task]

    assert fan.batch_size == 1 and fan.resources == Resources()
    empty = DocumentBatch(task_id="e", dataset_name="d", data=pa.table({"text": pa.array([], pa.string())}))
    full = batch("f")
    assert fan.process_batch([empty, full]) == [full, full]


def test_processing_stage_decorator_needs_name():
    with pytest.raises(TypeError):
        processing_stage(name="")
    with pytest.raises(TypeError):
        processing_stage()  # type: ignore[call-arg]


# -- CompositeStage ---------------------------------------------------------------------------------
class Tag(ProcessingStage[DocumentBatch, DocumentBatch]):
    def __init__(self, label: str) -> None:
        self._name = label

    def process(self, task):
        return task


class TwoParts(CompositeStage[DocumentBatch, DocumentBatch]):
    _name = "two_parts"

    def decompose(self):
        return [Tag("first"), Tag("second")]


def test_composite_decompose_and_process_refuses():
    parts = TwoParts().decompose_and_apply_with()
    assert [p.name for p in parts] == ["first", "second"]
    with pytest.raises(RuntimeError, match="two_parts"):
        TwoParts().process(EmptyTask)


def test_composite_with_applies_to_parts():
    composite = TwoParts()
    configured = composite.with_({"second": {"batch_size": 4, "resources": Resources(cpus=2)}})
    assert configured is not composite
    parts = configured.decompose_and_apply_with()
    assert [p.name for p in parts] == ["first", "second"]
    assert parts[0].batch_size == 1 and parts[0].resources == Resources()
    assert parts[1].batch_size == 4 and parts[1].resources == Resources(cpus=2)
    # the original composite is unchanged
    assert [p.batch_size for p in composite.decompose_and_apply_with()] == [1, 1]


def test_composite_with_chained_and_rename():
    configured = TwoParts().with_({"first": {"name": "renamed"}}).with_({"renamed": {"batch_size": 2}})
    parts = configured.decompose_and_apply_with()
    assert [(p.name, p.batch_size) for p in parts] == [("renamed", 2), ("second", 1)]


def test_composite_with_unknown_part():
    configured = TwoParts().with_({"third": {"batch_size": 2}})
    with pytest.raises(PipelineConfigError) as info:
        configured.decompose_and_apply_with()
    message = str(info.value)
    assert "third" in message and "first" in message and "second" in message and "two_parts" in message


def test_composite_with_unknown_option():
    configured = TwoParts().with_({"first": {"cpus": 2}})
    with pytest.raises(PipelineConfigError, match="cpus"):
        configured.decompose_and_apply_with()


def test_composite_with_bad_value_fails_at_apply():
    configured = TwoParts().with_({"first": {"batch_size": 0}})
    with pytest.raises(PipelineConfigError, match="batch_size"):
        configured.decompose_and_apply_with()


def test_composite_with_rejects_keyword_arguments():
    with pytest.raises(TypeError, match="two_parts"):
        TwoParts().with_(batch_size=3)
