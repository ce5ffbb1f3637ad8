"""LocalExecutor and BaseStageAdapter: batching, life cycle, errors, perf stats, shuffle fallback."""

from __future__ import annotations

import pickle
import time
from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa
import pytest

from raycurator.backends.base import BaseExecutor, BaseStageAdapter, NodeInfo, WorkerMetadata
from raycurator.backends.local import LocalExecutor
from raycurator.errors import StageExecutionError, StageInputError
from raycurator.stages import ProcessingStage, RayStageSpecKeys, Resources
from raycurator.stages.shuffle import ShuffleStage
from raycurator.tasks import DocumentBatch, EmptyTask, Task
from raycurator.tasks.utils import TaskPerfUtils


def make_batch(task_id: str, texts: list[str], files: list[str] | None = None) -> DocumentBatch:
    task = DocumentBatch(task_id=task_id, dataset_name="ds", data=pa.table({"text": texts}))
    if files:
        task._metadata["source_files"] = files
    return task


def texts_of(tasks: list[Task]) -> list[str]:
    return [t for task in tasks for t in task.to_pyarrow().column("text").to_pylist()]


class Source(ProcessingStage[Task, DocumentBatch]):
    """From the start token, makes `count` batches of `rows` documents each."""

    _name = "source"

    def __init__(self, count: int = 3, rows: int = 2) -> None:
        self.count, self.rows = count, rows
        self.seen: list[Task] = []

    def process(self, task):
        self.seen.append(task)
        return [
            make_batch(f"src-{i}", [f"d{i}-{j}" for j in range(self.rows)], files=[f"in/{i}.jsonl"])
            for i in range(self.count)
        ]


class SplitRows(ProcessingStage[DocumentBatch, DocumentBatch]):
    """1→N: one task per row; keeps the perf history and the source files."""

    _name = "split"

    def process(self, task):
        table = task.to_pyarrow()
        return [
            DocumentBatch(
                task_id=f"{task.task_id}/{i}",
                dataset_name=task.dataset_name,
                data=table.slice(i, 1),
                _stage_perf=list(task._stage_perf),
                _metadata=dict(task._metadata),
            )
            for i in range(table.num_rows)
        ]


class DropContaining(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Filter: drops tasks whose text contains `needle`."""

    name = "drop"

    def __init__(self, needle: str) -> None:
        self.needle = needle

    def process(self, task):
        return None if any(self.needle in t for t in texts_of([task])) else task


class Recorder(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Pass-through that records the size of every batch it gets and the life-cycle calls."""

    def __init__(self, name: str = "recorder", batch_size: int | None = 1, barrier: bool = False) -> None:
        self._name = name
        self._batch_size = batch_size
        self.barrier = barrier
        self.batch_sizes: list[int] = []
        self.events: list[str] = []
        self.setup_args: list[object] = []

    def ray_stage_spec(self):
        return {RayStageSpecKeys.IS_BARRIER: True} if self.barrier else {}

    def setup_on_node(self, node_info=None, worker_metadata=None):
        self.events.append("setup_on_node")
        self.setup_args.append((node_info, worker_metadata))

    def setup(self, worker_metadata=None):
        self.events.append("setup")
        self.setup_args.append(worker_metadata)

    def teardown(self):
        self.events.append("teardown")

    def process_batch(self, tasks):
        self.events.append("process_batch")
        self.batch_sizes.append(len(tasks))
        return super().process_batch(tasks)

    def process(self, task):
        return task


def initial(n: int) -> list[DocumentBatch]:
    return [make_batch(f"t{i}", [f"doc{i}"], files=[f"f{i}.jsonl"]) for i in range(n)]


# -- basic flow -------------------------------------------------------------------------------------
def test_starts_from_empty_task_and_fans_out():
    source = Source(count=3, rows=2)
    out = LocalExecutor().execute([source, SplitRows()])
    assert source.seen == [EmptyTask]
    assert [t.task_id for t in out] == ["src-0/0", "src-0/1", "src-1/0", "src-1/1", "src-2/0", "src-2/1"]
    assert texts_of(out) == ["d0-0", "d0-1", "d1-0", "d1-1", "d2-0", "d2-1"]


def test_filter_stage_drops_tasks():
    out = LocalExecutor().execute([DropContaining("3")], initial(5))
    assert [t.task_id for t in out] == ["t0", "t1", "t2", "t4"]


def test_everything_filtered_leaves_later_stages_uncalled():
    later = Recorder("later")
    out = LocalExecutor().execute([DropContaining("doc"), later], initial(3))
    assert out == []
    assert later.batch_sizes == []


def test_empty_initial_tasks():
    rec = Recorder()
    assert LocalExecutor().execute([rec], []) == []
    assert rec.batch_sizes == []


@pytest.mark.parametrize(
    ("n", "size", "expected"), [(7, 3, [3, 3, 1]), (4, 2, [2, 2]), (2, 5, [2]), (3, 1, [1, 1, 1])]
)
def test_batches_of_batch_size(n, size, expected):
    rec = Recorder(batch_size=size)
    out = LocalExecutor().execute([rec], initial(n))
    assert rec.batch_sizes == expected
    assert [t.task_id for t in out] == [f"t{i}" for i in range(n)]


def test_batch_size_none_means_one():
    rec = Recorder(batch_size=None)
    LocalExecutor().execute([rec], initial(3))
    assert rec.batch_sizes == [1, 1, 1]


class PlainCounting(ProcessingStage[DocumentBatch, DocumentBatch]):
    name = "plain_counting"
    batch_size = 2

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def process_batch(self, tasks):
        self.sizes.append(len(tasks))
        return super().process_batch(tasks)

    def process(self, task):
        return task


@dataclass
class DataclassCounting(ProcessingStage[DocumentBatch, DocumentBatch]):
    name: str = "dc_counting"
    batch_size: int = 3
    sizes: list[int] = field(default_factory=list)

    def process_batch(self, tasks):
        self.sizes.append(len(tasks))
        return super().process_batch(tasks)

    def process(self, task):
        return task


@dataclass(frozen=True)
class FrozenCounting(ProcessingStage[DocumentBatch, DocumentBatch]):
    name: str = "frozen_counting"
    batch_size: int = 4
    sizes: list[int] = field(default_factory=list)

    def process_batch(self, tasks):
        self.sizes.append(len(tasks))
        return super().process_batch(tasks)

    def process(self, task):
        self._log_metric("seen", task.num_items)
        return task


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        (PlainCounting(), [2, 2, 2, 1]),
        (DataclassCounting(), [3, 3, 1]),
        (FrozenCounting(), [4, 3]),
        (PlainCounting().with_(batch_size=5), [5, 2]),
        (DataclassCounting().with_(batch_size=6), [6, 1]),
        (FrozenCounting().with_(batch_size=1, name="f1"), [1] * 7),
    ],
    ids=["plain", "dataclass", "frozen", "plain-with", "dataclass-with", "frozen-with"],
)
def test_batch_size_in_every_declaration_style(stage, expected):
    out = LocalExecutor().execute([stage], initial(7))
    assert stage.sizes == expected
    assert len(out) == 7
    assert {t._stage_perf[-1].stage_name for t in out} == {stage.name}


def test_barrier_gets_all_inputs_in_one_call():
    barrier = Recorder("barrier", batch_size=2, barrier=True)
    after = Recorder("after", batch_size=2)
    LocalExecutor().execute([SplitRows(), barrier, after], [*initial(3), make_batch("x", ["a", "b", "c"])])
    assert barrier.batch_sizes == [6]
    assert after.batch_sizes == [2, 2, 2]


# -- life cycle -------------------------------------------------------------------------------------
def test_setup_and_teardown_called_in_order():
    rec = Recorder(batch_size=2)
    LocalExecutor().execute([rec], initial(3))
    assert rec.events == ["setup_on_node", "setup", "process_batch", "process_batch", "teardown"]
    (node, worker_on_node), worker = rec.setup_args
    assert isinstance(node, NodeInfo) and node.node_id
    assert isinstance(worker, WorkerMetadata) and worker.worker_id
    assert worker_on_node == worker


def test_each_stage_set_up_and_torn_down_once():
    first, second = Recorder("a"), Recorder("b")
    LocalExecutor().execute([first, second], initial(2))
    for rec in (first, second):
        assert rec.events.count("setup") == 1 and rec.events.count("teardown") == 1
        assert rec.events[-1] == "teardown"


class Exploding(Recorder):
    def process(self, task):
        if task.task_id == "t2":
            raise ValueError("bad document in t2")
        return task


def test_failing_stage_raises_stage_execution_error():
    stage = Exploding("exploder", batch_size=2)
    with pytest.raises(StageExecutionError) as info:
        LocalExecutor().execute([stage], initial(4))
    error = info.value
    assert error.stage_name == "exploder"
    assert error.task_ids == ["t2", "t3"]  # the failing batch
    assert error.source_files == ["f2.jsonl", "f3.jsonl"]
    assert error.error_type == "ValueError"
    assert error.error_message == "bad document in t2"
    assert isinstance(error.__cause__, ValueError)
    # the original traceback points at the raising code
    assert "Exploding" in error.traceback_text or "in process" in error.traceback_text
    assert 'raise ValueError("bad document in t2")' in error.traceback_text
    message = str(error)
    expected = ("exploder", "t2", "t3", "f2.jsonl", "ValueError", "bad document in t2", "original traceback")
    for part in expected:
        assert part in message
    # teardown still ran
    assert stage.events[-1] == "teardown"


def test_stage_execution_error_pickles():
    stage = Exploding("exploder")
    with pytest.raises(StageExecutionError) as info:
        LocalExecutor().execute([stage], initial(3))
    copy = pickle.loads(pickle.dumps(info.value))
    assert (copy.stage_name, copy.task_ids, copy.source_files) == ("exploder", ["t2"], ["f2.jsonl"])
    assert copy.traceback_text == info.value.traceback_text
    assert str(copy) == str(info.value)


def test_input_validation_error_wrapped_with_stage_and_task():
    class NeedsId(ProcessingStage[DocumentBatch, DocumentBatch]):
        _name = "needs_id"

        def inputs(self):
            return ["data"], ["id"]

        def process(self, task):
            return task

    with pytest.raises(StageExecutionError) as info:
        LocalExecutor().execute([NeedsId()], initial(1))
    assert info.value.stage_name == "needs_id"
    assert info.value.task_ids == ["t0"]
    assert info.value.error_type == "StageInputError"
    assert isinstance(info.value.__cause__, StageInputError)
    assert "f0.jsonl" in str(info.value)


def test_failure_stops_later_stages():
    later = Recorder("later")
    with pytest.raises(StageExecutionError):
        LocalExecutor().execute([Exploding("x"), later], initial(4))
    assert later.events == []


def test_teardown_failure_does_not_hide_error():
    class BadTeardown(Exploding):
        def teardown(self):
            raise RuntimeError("teardown broke")

    with pytest.raises(StageExecutionError, match="bad document"):
        LocalExecutor().execute([BadTeardown("x")], initial(3))


# -- perf stats and custom metrics ------------------------------------------------------------------
class Metered(ProcessingStage[DocumentBatch, DocumentBatch]):
    def __init__(self, name: str, batch_size: int = 1) -> None:
        self._name = name
        self._batch_size = batch_size

    def process(self, task):
        self._log_metric("docs", task.num_items)
        self._log_metrics({"calls": 1})
        return task


def test_perf_stats_attached_in_stage_order():
    stages = [Source(count=2, rows=3), SplitRows(), Recorder("r1"), Recorder("r2", batch_size=4)]
    out = LocalExecutor().execute(stages, None)
    assert len(out) == 6
    for task in out:
        assert [s.stage_name for s in task._stage_perf] == ["source", "split", "r1", "r2"]
        assert all(s.process_time >= 0 for s in task._stage_perf)
    # one stats object per call, shared by every output of that call
    assert out[0]._stage_perf[-1] is out[3]._stage_perf[-1]
    assert out[0]._stage_perf[-1].num_items_processed == 4
    assert out[5]._stage_perf[-1].num_items_processed == 2
    assert out[0]._stage_perf[2].input_data_size_mb > 0


def test_custom_metrics_visible_via_task_perf_utils():
    tasks = [make_batch(f"t{i}", ["x"] * (i + 1)) for i in range(5)]
    out = LocalExecutor().execute([Metered("meter", batch_size=2), Recorder("after")], tasks)
    metrics = TaskPerfUtils.collect_stage_metrics(out)
    assert list(metrics) == ["meter", "after"]
    # batches [t0,t1], [t2,t3], [t4]: rows 1+2, 3+4, 5 -- one record per call (NeMo Curator's
    # meaning: a record shared by a call's outputs counts once), items are rows
    assert metrics["meter"]["custom.docs"].tolist() == [3.0, 7.0, 5.0]
    assert metrics["meter"]["custom.calls"].tolist() == [2.0, 2.0, 1.0]
    assert metrics["meter"]["num_items_processed"].tolist() == [3, 7, 5]
    assert "custom.docs" not in metrics["after"]


def test_metrics_do_not_leak_between_runs():
    stage = Metered("meter")
    stage._log_metric("docs", 100)  # stale value from outside a batch
    out = LocalExecutor().execute([stage], initial(2))
    assert TaskPerfUtils.collect_stage_metrics(out)["meter"]["custom.docs"].tolist() == [1.0, 1.0]


# -- BaseStageAdapter and BaseExecutor --------------------------------------------------------------
def test_adapter_delegates_and_times():
    rec = Recorder("adapted")
    adapter = BaseStageAdapter(rec)
    adapter.setup_on_node(NodeInfo("n"), WorkerMetadata("w"))
    adapter.setup(WorkerMetadata("w"))
    tasks = initial(2)
    out = adapter.process_batch(tasks)
    adapter.teardown()
    assert out == tasks
    assert rec.events == ["setup_on_node", "setup", "process_batch", "teardown"]
    assert rec.setup_args == [(NodeInfo("n"), WorkerMetadata("w")), WorkerMetadata("w")]
    assert [s.stage_name for s in out[0]._stage_perf] == ["adapted"]
    assert out[0]._stage_perf[0].num_items_processed == 2
    assert adapter.last_output_counts == [1, 1]


def test_adapter_normalises_non_list_results():
    class Single(ProcessingStage[DocumentBatch, DocumentBatch]):
        def process_batch(self, tasks):
            return tasks[0]

        def process(self, task):
            return task

    class Nothing(Single):
        def process_batch(self, tasks):
            return None

    task = initial(1)[0]
    assert BaseStageAdapter(Single()).process_batch([task]) == [task]
    assert BaseStageAdapter(Nothing()).process_batch([task]) == []


def test_adapter_idle_time_between_calls():
    adapter = BaseStageAdapter(Recorder())
    first = adapter.process_batch(initial(1))
    time.sleep(0.05)
    second = adapter.process_batch(initial(1))
    assert first[0]._stage_perf[0].actor_idle_time == 0.0
    assert second[0]._stage_perf[0].actor_idle_time >= 0.045


def test_base_executor_is_abstract_and_copies_config():
    with pytest.raises(TypeError):
        BaseExecutor()  # type: ignore[abstract]
    config = {"a": 1}
    executor = LocalExecutor(config)
    config["a"] = 2
    assert executor.config == {"a": 1}
    assert LocalExecutor().config == {}


def test_stage_resources_do_not_matter_locally():
    stage = Recorder().with_(resources=Resources(gpus=1))
    assert len(LocalExecutor().execute([stage], initial(2))) == 2


# -- ShuffleStage fallback --------------------------------------------------------------------------
def shuffle_inputs() -> list[DocumentBatch]:
    keys = ["a", "b", "c", "d", "e", "f", "g"]
    tasks = []
    for i in range(4):
        rows = [(keys[(i * 3 + j) % len(keys)], f"doc-{i}-{j}") for j in range(6)]
        table = pa.table({"key": [k for k, _ in rows], "text": [t for _, t in rows]})
        tasks.append(DocumentBatch(task_id=f"in-{i}", dataset_name="shuf", data=table))
    return tasks


def rows_of(task: DocumentBatch) -> list[tuple[str, str]]:
    table = task.to_pyarrow()
    return list(zip(table.column("key").to_pylist(), table.column("text").to_pylist(), strict=True))


@pytest.mark.parametrize("num_partitions", [None, 1, 3, 16])
def test_shuffle_fallback_preserves_rows_and_groups_keys(num_partitions):
    inputs = shuffle_inputs()
    before = Counter(row for task in inputs for row in rows_of(task))
    out = LocalExecutor().execute([ShuffleStage("key", num_partitions=num_partitions)], inputs)
    after = Counter(row for task in out for row in rows_of(task))
    assert after == before
    expected_max = num_partitions or len(inputs)
    assert 1 <= len(out) <= expected_max
    owner: dict[str, str] = {}
    for task in out:
        assert task.num_items > 0
        assert task.dataset_name == "shuf"
        for key in set(task.to_pyarrow().column("key").to_pylist()):
            assert key not in owner, f"key {key} in {owner.get(key)} and {task.task_id}"
            owner[key] = task.task_id
    assert set(owner) == {"a", "b", "c", "d", "e", "f", "g"}
    assert len({t.task_id for t in out}) == len(out)
    for task in out:
        assert [s.stage_name for s in task._stage_perf] == ["ShuffleStage"]


def test_shuffle_is_a_barrier_even_with_batch_size():
    stage = ShuffleStage(["key"], num_partitions=2).with_(batch_size=1)
    assert stage.is_barrier
    out = LocalExecutor().execute([stage], shuffle_inputs())
    keys = [set(t.to_pyarrow().column("key").to_pylist()) for t in out]
    assert sum(len(k) for k in keys) == 7  # all inputs met in one call: keys not split across outputs


def test_shuffle_reduce_table_hook_sees_whole_keys():
    class KeepFirstPerKey(ShuffleStage):
        def reduce_table(self, partition_index, table):
            seen: set[str] = set()
            keep = []
            for i, key in enumerate(table.column("key").to_pylist()):
                if key not in seen:
                    seen.add(key)
                    keep.append(i)
            return table.take(keep)

    out = LocalExecutor().execute([KeepFirstPerKey("key", num_partitions=3)], shuffle_inputs())
    keys = [k for t in out for k in t.to_pyarrow().column("key").to_pylist()]
    assert sorted(keys) == ["a", "b", "c", "d", "e", "f", "g"]


def test_shuffle_rejects_missing_key_and_non_documents():
    with pytest.raises(StageExecutionError, match="ShuffleStage") as info:
        LocalExecutor().execute([ShuffleStage("nope")], shuffle_inputs())
    assert info.value.error_type == "StageInputError"
    with pytest.raises(StageExecutionError, match="DocumentBatch"):
        LocalExecutor().execute([ShuffleStage("key")], None)
    with pytest.raises(ValueError):
        ShuffleStage([])
    with pytest.raises(ValueError):
        ShuffleStage("key", num_partitions=0)
