"""Rows of failed tasks are reported as failed, not as removed."""

from __future__ import annotations

import io
import sys

import pyarrow as pa
import pytest
from ray import cloudpickle
from rich.console import Console

from raycurator import DocumentBatch, LocalExecutor, ProcessingStage, StageExecutionError
from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
from raycurator.backends.report_html import render_report_html, stage_rows
from raycurator.cli.report import print_report

cloudpickle.register_pickle_by_value(sys.modules[__name__])


class Picky(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Fails on task `boom`; drops the first row of every other task."""

    def __init__(self, name: str, boom: str = "", batch_size: int = 1) -> None:
        self._name, self.boom, self._batch_size = name, boom, batch_size

    def process(self, task: DocumentBatch) -> DocumentBatch:
        if task.task_id == self.boom:
            raise ValueError("cannot take this one")
        table = task.to_pyarrow()
        return DocumentBatch(task.task_id, task.dataset_name, table.slice(1), task._stage_perf, task._metadata)


def batches() -> list[DocumentBatch]:
    return [DocumentBatch(f"t{i}", "ds", pa.table({"text": ["a", "b", "c", "d"]})) for i in range(4)]


@pytest.mark.usefixtures("shared_ray")
@pytest.mark.parametrize("fuse", [True, False], ids=["fused", "unfused"])
def test_rows_of_failed_tasks_are_failed_not_removed(fuse: bool) -> None:
    stages = [Picky("first", batch_size=2), Picky("second", boom="t2", batch_size=2)]
    executor = RayActorPoolExecutor(config={"on_error": "skip", "fuse_stages": fuse}, show_progress=False)
    executor.execute(stages, batches())
    second = executor.last_report.stage("second")
    assert (second.tasks_failed, second.rows_in, second.rows_failed, second.rows_out) == (1, 12, 3, 6)
    data = executor.last_report.to_dict()
    (as_dict,) = [s for s in data["stages"] if s["stage_name"] == "second"]
    assert stage_rows(as_dict) == ("filter", 6, 3, 0)  # 3 removed (one per surviving task), 3 failed
    buffer = io.StringIO()
    print_report(data, Console(file=buffer, width=200, no_color=True))
    assert "1 (3 rows)" in buffer.getvalue() and "failed tasks: 1 (3 rows)" in buffer.getvalue()
    assert '<td data-key="rows_failed">3</td>' in render_report_html(data)


def test_the_local_executor_counts_the_rows_of_a_failed_batch() -> None:
    executor = LocalExecutor()
    with pytest.raises(StageExecutionError):
        executor.execute([Picky("only", boom="t1", batch_size=2)], batches())
    counters = executor.last_report.stage("only")
    assert (counters.tasks_failed, counters.rows_failed, executor.last_report.status) == (2, 8, "failed")
