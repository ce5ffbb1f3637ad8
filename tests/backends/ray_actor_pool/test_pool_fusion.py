"""Stage fusion: the plan, and fused runs that match unfused ones stage by stage."""

from __future__ import annotations

import sys

import pyarrow as pa
import pytest
from ray import cloudpickle

from raycurator import DocumentBatch, LocalExecutor, ProcessingStage, Resources, StageExecutionError
from raycurator.backends.failures import FailureLedger
from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
from raycurator.backends.ray_actor_pool.fusion import plan_fusion
from raycurator.stages.base import RayStageSpecKeys
from raycurator.stages.shuffle import ShuffleStage

cloudpickle.register_pickle_by_value(sys.modules[__name__])


class Step(ProcessingStage[DocumentBatch, DocumentBatch]):
    def __init__(
        self,
        name: str,
        batch_size: int = 1,
        cpus: float = 1.0,
        drop: str = "",
        boom: str = "",
        split: int = 1,
        fanout: bool = False,
    ) -> None:
        self._name, self._batch_size, self._resources = name, batch_size, Resources(cpus=cpus)
        self.drop, self.boom, self.split, self.fanout = drop, boom, split, fanout
        self.largest_batch = 0

    def ray_stage_spec(self) -> dict:
        return {RayStageSpecKeys.IS_FANOUT_STAGE: True} if self.fanout else {}

    def process_batch(self, tasks: list[DocumentBatch]) -> list[DocumentBatch]:
        assert len(tasks) <= self._batch_size, f"{self.name} got {len(tasks)} > batch size {self._batch_size}"
        return super().process_batch(tasks)

    def process(self, task: DocumentBatch) -> DocumentBatch | list[DocumentBatch] | None:
        if self.boom and task.task_id.startswith(self.boom):
            raise ValueError(f"{self.name} refuses {task.task_id}")
        if self.drop and task.task_id.startswith(self.drop):
            return None
        table = task.to_pyarrow()
        table = table.append_column(self.name, pa.array([1] * table.num_rows))
        if self.split == 1:
            return DocumentBatch(task.task_id, task.dataset_name, table, task._stage_perf, task._metadata)
        return [
            DocumentBatch(f"{task.task_id}.{i}", task.dataset_name, table, list(task._stage_perf), task._metadata)
            for i in range(self.split)
        ]


def batches(count: int) -> list[DocumentBatch]:
    return [DocumentBatch(f"t{i:02d}", "ds", pa.table({"n": [i, i]})) for i in range(count)]


def test_plan_fuses_compatible_neighbours_only() -> None:
    stages = [
        Step("src"),
        Step("a"),
        Step("b"),
        Step("gpu", cpus=0.5),
        Step("c", fanout=True),
        Step("d"),
        ShuffleStage("n"),
        Step("e"),
        Step("f"),
    ]
    assert plan_fusion(stages, starts_from_source=True) == [[0], [1, 2], [3], [4], [5], [6], [7, 8]]
    assert plan_fusion(stages, starts_from_source=False) == [[0, 1, 2], [3], [4], [5], [6], [7, 8]]
    assert plan_fusion([Step("a"), Step("b")], False, {"b": "skip"}) == [[0], [1]]


def rows(tasks) -> list[tuple]:
    return sorted((t.task_id, *t.to_pyarrow().column_names) for t in tasks)


@pytest.mark.usefixtures("shared_ray")
def test_fused_run_matches_local_and_keeps_per_stage_accounting() -> None:
    stages = [Step("a", batch_size=3), Step("b", split=2), Step("c", batch_size=4, drop="t03"), Step("d")]
    executor = RayActorPoolExecutor(show_progress=False)
    outputs = executor.execute(stages, batches(10))
    assert rows(outputs) == rows(LocalExecutor().execute(stages, batches(10)))
    for output in outputs:
        assert [s.stage_name for s in output._stage_perf] == ["a", "b", "c", "d"]
    report = executor.last_report
    assert [s.stage_name for s in report.stages] == ["a", "b", "c", "d"]
    a, b, c, d = report.stages
    assert (a.tasks_in, a.tasks_out, b.tasks_in, b.tasks_out) == (10, 10, 10, 20)
    assert (c.tasks_in, c.tasks_filtered, c.tasks_out, d.tasks_in, d.tasks_out) == (20, 2, 18, 18, 18)
    assert report.balanced
    assert a.actors_started == d.actors_started, "fused stages share their actors"
    assert report.extra["actors_started_total"] == a.actors_started, "shared actors are counted once for the run"


@pytest.mark.usefixtures("shared_ray")
def test_errors_in_a_fused_stage_name_the_member() -> None:
    stages = [Step("a"), Step("b", boom="t04"), Step("c")]
    with pytest.raises(StageExecutionError) as info:
        RayActorPoolExecutor(show_progress=False).execute(stages, batches(6))
    assert info.value.stage_name == "b" and info.value.task_ids == ["t04"]
    executor = RayActorPoolExecutor(config={"on_error": "skip"}, show_progress=False)
    outputs = executor.execute([Step("a", batch_size=3), Step("b", boom="t04"), Step("c")], batches(6))
    assert sorted(o.task_id for o in outputs) == ["t00", "t01", "t02", "t03", "t05"]
    entries = FailureLedger.read(executor.last_report.failure_ledger)
    assert [(e["stage"], e["task_id"]) for e in entries] == [("b", "t04")]
    report = executor.last_report
    assert report.stage("b").tasks_failed == 1 and report.stage("a").tasks_failed == 0
    assert report.balanced
