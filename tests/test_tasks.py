"""Tasks: DocumentBatch, FileGroupTask, EmptyTask, perf bookkeeping and TaskPerfUtils."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from raycurator.perf import StagePerfStats
from raycurator.tasks import DocumentBatch, EmptyTask, FileGroupTask, Task
from raycurator.tasks.utils import TaskPerfUtils


def _arrow_batch(n: int = 3, task_id: str = "b0") -> DocumentBatch:
    table = pa.table({"id": list(range(n)), "text": [f"doc {i}" for i in range(n)]})
    return DocumentBatch(task_id=task_id, dataset_name="ds", data=table)


def _pandas_batch(n: int = 4, task_id: str = "p0") -> DocumentBatch:
    frame = pd.DataFrame({"id": list(range(n)), "text": [f"doc {i}" for i in range(n)], "score": [0.5] * n})
    return DocumentBatch(task_id=task_id, dataset_name="ds", data=frame)


# -- Task base --------------------------------------------------------------------------------------
def test_task_is_abstract():
    with pytest.raises(TypeError):
        Task(task_id="t", dataset_name="d", data=None)  # type: ignore[abstract]


def test_task_fields_and_independent_defaults():
    a, b = _arrow_batch(task_id="a"), _arrow_batch(task_id="b")
    assert (a.task_id, a.dataset_name) == ("a", "ds")
    assert a._stage_perf == [] and a._metadata == {}
    a._metadata["source_files"] = ["x.jsonl"]
    a.add_stage_perf(StagePerfStats("s"))
    # default containers are per instance, not shared
    assert b._stage_perf == [] and b._metadata == {}


def test_add_stage_perf_keeps_order():
    task = _arrow_batch()
    for name in ("read", "filter", "write"):
        task.add_stage_perf(StagePerfStats(stage_name=name, num_items_processed=1))
    assert [s.stage_name for s in task._stage_perf] == ["read", "filter", "write"]


def test_source_files_from_metadata():
    task = _arrow_batch()
    assert task.source_files == []
    task._metadata["source_files"] = ["a.jsonl", "b.jsonl"]
    assert task.source_files == ["a.jsonl", "b.jsonl"]
    task.source_files.append("c")  # a copy: the metadata is not changed
    assert task._metadata["source_files"] == ["a.jsonl", "b.jsonl"]


def test_repr_names_task():
    text = repr(_arrow_batch(n=5, task_id="abc"))
    assert "DocumentBatch" in text and "abc" in text and "5" in text


# -- DocumentBatch ----------------------------------------------------------------------------------
def test_document_batch_arrow():
    task = _arrow_batch(n=3)
    assert task.num_items == 3
    assert task.validate()
    assert task.get_columns() == ["id", "text"]
    assert task.to_pyarrow() is task.data  # no copy
    frame = task.to_pandas()
    assert isinstance(frame, pd.DataFrame)
    assert frame["text"].tolist() == ["doc 0", "doc 1", "doc 2"]
    assert task.data_size_bytes() == task.data.nbytes > 0


def test_document_batch_pandas():
    task = _pandas_batch(n=4)
    assert task.num_items == 4
    assert task.validate()
    assert task.get_columns() == ["id", "text", "score"]
    assert task.to_pandas() is task.data
    table = task.to_pyarrow()
    assert isinstance(table, pa.Table)
    assert table.column_names == ["id", "text", "score"]
    assert table.column("id").to_pylist() == [0, 1, 2, 3]
    assert task.data_size_bytes() > 0


def test_document_batch_pandas_index_not_leaked():
    frame = pd.DataFrame({"text": ["a", "b"]}, index=[10, 20])
    table = DocumentBatch(task_id="t", dataset_name="d", data=frame).to_pyarrow()
    assert table.column_names == ["text"]


def test_document_batch_non_string_columns_reported_as_strings():
    frame = pd.DataFrame({0: [1], 1: [2]})
    assert DocumentBatch(task_id="t", dataset_name="d", data=frame).get_columns() == ["0", "1"]


def test_document_batch_empty_and_invalid():
    empty = DocumentBatch(task_id="e", dataset_name="d", data=pa.table({"text": pa.array([], pa.string())}))
    assert empty.num_items == 0 and empty.validate()
    bad = DocumentBatch(task_id="bad", dataset_name="d", data={"text": ["a"]})  # type: ignore[arg-type]
    assert not bad.validate()


def test_document_batch_roundtrip_preserves_rows():
    task = _pandas_batch(n=6)
    back = DocumentBatch(task_id="x", dataset_name="d", data=task.to_pyarrow()).to_pandas()
    pd.testing.assert_frame_equal(back, task.data)


# -- FileGroupTask ----------------------------------------------------------------------------------
def test_file_group_task():
    task = FileGroupTask(
        task_id="fg0", dataset_name="ds", data=["a.jsonl", "b.jsonl"], reader_config={"fields": ["text"]}
    )
    assert task.num_items == 2
    assert task.validate()
    assert task.reader_config == {"fields": ["text"]}
    assert task.source_files == ["a.jsonl", "b.jsonl"]
    task._metadata["source_files"] = ["orig.jsonl"]
    assert task.source_files == ["orig.jsonl"]


def test_file_group_task_defaults_and_validation():
    assert FileGroupTask(task_id="f", dataset_name="d", data=[]).reader_config == {}
    assert not FileGroupTask(task_id="f", dataset_name="d", data=["ok", ""]).validate()
    assert not FileGroupTask(task_id="f", dataset_name="d", data=["ok", 3]).validate()  # type: ignore[list-item]
    assert not FileGroupTask(task_id="f", dataset_name="d", data="a.jsonl").validate()  # type: ignore[arg-type]


# -- EmptyTask --------------------------------------------------------------------------------------
def test_empty_task():
    assert isinstance(EmptyTask, Task)
    assert EmptyTask.num_items == 0
    assert EmptyTask.data is None
    assert EmptyTask.validate()
    assert EmptyTask.source_files == []


# -- TaskPerfUtils ----------------------------------------------------------------------------------
def test_collect_stage_metrics_arrays_and_custom():
    t1, t2 = _arrow_batch(task_id="1"), _arrow_batch(task_id="2")
    t1.add_stage_perf(StagePerfStats("read", process_time=1.0, num_items_processed=3))
    t1.add_stage_perf(StagePerfStats("filter", process_time=0.5, custom_metrics={"dropped": 2.0}))
    t2.add_stage_perf(StagePerfStats("read", process_time=3.0, num_items_processed=5))
    t2.add_stage_perf(StagePerfStats("filter", process_time=0.25, custom_metrics={"dropped": 7.0}))

    metrics = TaskPerfUtils.collect_stage_metrics([t1, t2])
    assert list(metrics) == ["read", "filter"]
    read = metrics["read"]
    assert isinstance(read["process_time"], np.ndarray)
    np.testing.assert_allclose(read["process_time"], [1.0, 3.0])
    np.testing.assert_allclose(read["num_items_processed"], [3, 5])
    assert "custom.dropped" not in read
    np.testing.assert_allclose(metrics["filter"]["custom.dropped"], [2.0, 7.0])
    assert "dropped" not in metrics["filter"]
    assert {"process_time", "actor_idle_time", "input_data_size_mb", "num_items_processed"} <= set(read)


def test_collect_stage_metrics_stage_order_is_first_seen():
    task = _arrow_batch()
    for name in ("zeta", "alpha", "mid"):
        task.add_stage_perf(StagePerfStats(name))
    assert list(TaskPerfUtils.collect_stage_metrics([task])) == ["zeta", "alpha", "mid"]


def test_collect_stage_metrics_empty_and_generator():
    assert TaskPerfUtils.collect_stage_metrics([]) == {}
    tasks = [_arrow_batch(task_id=str(i)) for i in range(3)]
    for i, task in enumerate(tasks):
        task.add_stage_perf(StagePerfStats("s", num_items_processed=i))
    metrics = TaskPerfUtils.collect_stage_metrics(t for t in tasks)
    np.testing.assert_allclose(metrics["s"]["num_items_processed"], [0, 1, 2])


# -- deriving a task --------------------------------------------------------------------------------
def test_derive_keeps_identity_and_history_but_shares_nothing():
    source = _arrow_batch(task_id="b7")
    source._metadata["source_files"] = ["in.jsonl"]
    source.add_stage_perf(StagePerfStats("reader"))
    table = source.to_pyarrow().append_column("n", pa.array([1, 2, 3]))
    derived = source.derive(table)
    assert type(derived) is DocumentBatch and derived is not source
    assert (derived.task_id, derived.dataset_name, derived.source_files) == ("b7", "ds", ["in.jsonl"])
    assert derived.get_columns() == ["id", "text", "n"] and source.get_columns() == ["id", "text"]
    assert [p.stage_name for p in derived._stage_perf] == ["reader"]
    derived.add_stage_perf(StagePerfStats("next"))
    derived._metadata["source_files"] = ["other.jsonl"]
    assert len(source._stage_perf) == 1 and source.source_files == ["in.jsonl"], "the source is left as it was"
    renamed = source.derive(table.slice(0, 1), task_id="b7_0")
    assert (renamed.task_id, renamed.num_items) == ("b7_0", 1)
