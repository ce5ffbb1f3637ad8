"""Custom metrics (`ProcessingStage._log_metric`) land per stage in the run report, on every executor."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from ray import cloudpickle
from rich.console import Console

from raycurator import DocumentBatch, LocalExecutor, ProcessingStage
from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
from raycurator.backends.report_html import render_report_html
from raycurator.cli.report import print_report

cloudpickle.register_pickle_by_value(sys.modules[__name__])


class Count(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Logs the rows and calls it sees; with `drop_all` it filters every task out."""

    def __init__(self, name: str, batch_size: int = 1, drop_all: bool = False, boom: str = "") -> None:
        self._name, self._batch_size, self.drop_all, self.boom = name, batch_size, drop_all, boom

    def process(self, task: DocumentBatch) -> DocumentBatch | None:
        if self.boom and task.task_id == self.boom:
            self._log_metric("rows_seen", 1000)  # logged by a call that then fails: not counted
            raise ValueError("boom")
        self._log_metric("rows_seen", task.num_items)
        self._log_metrics({"calls": 1, "half": 0.5})
        return None if self.drop_all else task


def batches(count: int = 6) -> list[DocumentBatch]:
    return [DocumentBatch(f"t{i}", "ds", pa.table({"text": ["a", "b"]})) for i in range(count)]


def pipeline() -> list[ProcessingStage]:
    return [Count("first", batch_size=2), Count("second", batch_size=4), Count("gone", batch_size=4, drop_all=True)]


EXPECTED = {
    "first": {"rows_seen": 12.0, "calls": 6.0, "half": 3.0},
    "second": {"rows_seen": 12.0, "calls": 6.0, "half": 3.0},
    # every task is filtered out here: the metrics come from the batch calls, not from outputs
    "gone": {"rows_seen": 12.0, "calls": 6.0, "half": 3.0},
}


def check_report(report_dict: dict) -> None:
    assert {s["stage_name"]: s["custom_metrics"] for s in report_dict["stages"]} == EXPECTED
    page = render_report_html(report_dict)
    assert "Custom metrics per stage" in page and '<td class="name">rows_seen</td><td>12</td>' in page
    buffer = io.StringIO()
    print_report(report_dict, Console(file=buffer, width=160, no_color=True))
    assert "gone: calls=6, half=3, rows_seen=12" in buffer.getvalue()


def test_local_executor_report_sums_custom_metrics(tmp_path: Path) -> None:
    executor = LocalExecutor(config={"log_dir": str(tmp_path)})
    assert executor.execute(pipeline(), batches()) == []
    report = executor.last_report
    assert report is not None and report.status == "succeeded" and report.balanced
    assert report.stage("gone").tasks_filtered == 6
    written = json.loads((Path(report.log_dir) / "report.json").read_text())
    check_report(written)


def test_local_executor_without_log_dir_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    executor = LocalExecutor()
    executor.execute(pipeline(), batches())
    assert executor.last_report.log_dir is None and list(tmp_path.iterdir()) == []
    check_report(executor.last_report.to_dict())


@pytest.mark.usefixtures("shared_ray")
@pytest.mark.parametrize(
    "config",
    [
        {"mode": "streaming"},  # the three stages fuse into one actor
        {"mode": "streaming", "fuse_stages": False},
        {"mode": "stage_by_stage"},
    ],
    ids=["streaming-fused", "streaming-unfused", "stage-by-stage"],
)
def test_actor_pool_report_sums_custom_metrics(config: dict) -> None:
    executor = RayActorPoolExecutor(config=config, show_progress=False)
    assert executor.execute(pipeline(), batches()) == []
    report = executor.last_report
    assert report.status == "succeeded" and report.balanced
    written = json.loads((Path(report.log_dir) / "report.json").read_text())
    check_report(written)
    assert "Custom metrics per stage" in (Path(report.log_dir) / "report.html").read_text()


@pytest.mark.usefixtures("shared_ray")
def test_metrics_of_failed_calls_are_left_out_when_failures_are_isolated() -> None:
    stages = [Count("first", batch_size=3, boom="t1"), Count("second", batch_size=3)]
    executor = RayActorPoolExecutor(config={"on_error": "skip", "fuse_stages": False}, show_progress=False)
    outputs = executor.execute(stages, batches())
    assert len(outputs) == 5
    report = executor.last_report
    assert report.stage("first").tasks_failed == 1
    assert report.stage("first").custom_metrics == {"rows_seen": 10.0, "calls": 5.0, "half": 2.5}
    assert report.stage("second").custom_metrics == {"rows_seen": 10.0, "calls": 5.0, "half": 2.5}
