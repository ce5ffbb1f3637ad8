"""NeMo Curator meanings on Ray: `num_items_processed` counts rows on every executor, `Pipeline.run`'s
`checkpoint_path`, and the id-generator flow of exact dedup -> removal (on the shared local Ray)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ray import cloudpickle

from raycurator.backends.local import LocalExecutor
from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
from raycurator.backends.ray_data import RayDataExecutor
from raycurator.pipeline import Pipeline
from raycurator.stages.base import ProcessingStage
from raycurator.stages.deduplication.exact.identification import ExactDuplicateIdentification
from raycurator.stages.deduplication.id_generator import (
    CURATOR_DEDUP_ID_STR,
    IdGeneratorBase,
    create_id_generator_actor,
    get_id_generator_actor,
    kill_id_generator_actor,
    write_id_generator_to_disk,
)
from raycurator.stages.file_partitioning import FilePartitioningStage
from raycurator.stages.shuffle import ShuffleStage
from raycurator.stages.text.deduplication import TextDuplicatesRemovalWorkflow
from raycurator.stages.text.io.reader import JsonlReader
from raycurator.stages.text.io.writer import JsonlWriter
from raycurator.tasks import DocumentBatch, FailedTask
from raycurator.tasks.utils import TaskPerfUtils

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.usefixtures("shared_ray")

ROWS = {"t0": 3, "t1": 3, "t2": 2, "t3": 5}


class Tag(ProcessingStage[DocumentBatch, DocumentBatch]):
    def __init__(self, name: str, batch_size: int = 1) -> None:
        self._name = name
        self._batch_size = batch_size

    def process(self, task: DocumentBatch) -> DocumentBatch:
        table = task.to_pyarrow()
        return DocumentBatch(
            task_id=task.task_id,
            dataset_name=task.dataset_name,
            data=table.append_column(self.name, pa.array([1] * table.num_rows)),
            _stage_perf=task._stage_perf,
            _metadata=task._metadata,
        )


def batches() -> list[DocumentBatch]:
    return [
        DocumentBatch(task_id, "d", pa.table({"text": [f"{task_id} doc {i}" for i in range(rows)], "k": range(rows)}))
        for task_id, rows in ROWS.items()
    ]


def items_per_task(results: list, stage: str) -> dict[str, int]:
    """`{source task id: num_items_processed of stage}` (task ids pass through Tag unchanged)."""
    found = {}
    for task in results:
        records = [s for s in task._stage_perf if s.stage_name == stage]
        assert len(records) == 1, (stage, task._stage_perf)
        found[task.task_id] = records[0].num_items_processed
    return found


EXECUTORS = {
    "local": lambda: LocalExecutor(),
    "actor_pool_fused": lambda: RayActorPoolExecutor(show_progress=False),
    "actor_pool_unfused": lambda: RayActorPoolExecutor(config={"fuse_stages": False}, show_progress=False),
    "ray_data": lambda: RayDataExecutor(),
}


@pytest.mark.parametrize("executor_name", list(EXECUTORS))
def test_num_items_processed_counts_rows_on_every_executor(executor_name):
    executor = EXECUTORS[executor_name]()
    results = Pipeline("p", stages=[Tag("a"), Tag("b")]).run(executor, initial_tasks=batches())
    assert sorted(t.task_id for t in results) == sorted(ROWS)
    for stage in ("a", "b"):  # one task per call here: the task's rows, never 1
        assert items_per_task(results, stage) == ROWS
    if executor_name == "actor_pool_fused":
        first, second = executor.last_report.stages
        assert first.actors_started == second.actors_started  # the two stages ran fused, in shared actors


def test_batched_calls_count_every_row_of_the_batch():
    results = Pipeline("p", stages=[Tag("pairs", batch_size=2)]).run(LocalExecutor(), initial_tasks=batches())
    # calls [t0, t1] (3 + 3 rows) and [t2, t3] (2 + 5 rows): NeMo Curator reports rows, not 2 tasks
    assert items_per_task(results, "pairs") == {"t0": 6, "t1": 6, "t2": 7, "t3": 7}
    metrics = TaskPerfUtils.collect_stage_metrics(results)["pairs"]
    assert sorted(metrics["num_items_processed"].tolist()) == [6, 7]  # one record per call


def test_shuffle_reduce_counts_rows_of_its_partition():
    executor = RayActorPoolExecutor(show_progress=False)
    results = Pipeline("p", stages=[ShuffleStage(shuffle_on=["k"], total_nparts=3)]).run(
        executor, initial_tasks=batches()
    )
    assert sum(t.num_items for t in results) == sum(ROWS.values())
    for task in results:
        (record,) = [s for s in task._stage_perf if s.stage_name == "ShuffleStage"]
        assert record.num_items_processed == task.num_items  # rows merged, not tables


def _corpus(directory: Path, files: int = 3, docs: int = 4) -> Path:
    directory.mkdir()
    for f in range(files):
        lines = [json.dumps({"id": f"{f}-{d}", "text": f"document {d} of file {f}"}) for d in range(docs)]
        (directory / f"part-{f}.jsonl").write_text("\n".join(lines) + "\n")
    return directory


def test_pipeline_run_checkpoint_path_resumes_on_the_actor_pool(tmp_path):
    data, out, checkpoint = _corpus(tmp_path / "in"), tmp_path / "out", tmp_path / "ckpt"
    executor = RayActorPoolExecutor(show_progress=False)

    def pipeline() -> Pipeline:
        return Pipeline("p", stages=[JsonlReader(str(data), files_per_partition=1), JsonlWriter(str(out))])

    pipeline().run(executor, checkpoint_path=checkpoint)
    assert executor.last_report.extra["checkpoint"]["partitions_finished"] == 3
    assert len(list((checkpoint / "done").glob("*.done"))) == 3
    pipeline().run(executor, checkpoint_path=checkpoint)
    assert executor.last_report.extra["checkpoint"]["partitions_skipped"] == 3
    assert executor.options.checkpoint_dir is None  # only those runs used it
    pipeline().run(executor)
    assert "checkpoint" not in executor.last_report.extra


def test_id_generator_actor_state_round_trips(tmp_path):
    create_id_generator_actor()
    try:
        actor = get_id_generator_actor()
        import ray

        assert ray.get(actor.register_batch.remote(["a.jsonl"], 10)) == 0
        assert ray.get(actor.register_batch.remote(["b.jsonl"], 5)) == 10
        assert ray.get(actor.register_batch.remote(["a.jsonl"], 10)) == 0  # same files, same range
        write_id_generator_to_disk(str(tmp_path / "ids.json"))
    finally:
        kill_id_generator_actor()
    state = json.loads((tmp_path / "ids.json").read_text())
    assert state["next_id"] == 15 and sorted(map(tuple, state["batch_registry"].values())) == [(0, 9), (10, 14)]
    restored = IdGeneratorBase.from_disk(str(tmp_path / "ids.json"))
    assert restored.get_batch_range(["b.jsonl"], None) == (10, 14)
    assert restored.register_batch("c.jsonl", 1) == 15
    with pytest.raises(ValueError, match="either files or key"):
        restored.get_batch_range(None, None)


def test_exact_identification_then_removal_with_the_id_generator_nemo_style(tmp_path):
    data = tmp_path / "in"
    data.mkdir()
    texts = [["alpha text", "beta text", "alpha text"], ["gamma text", "beta text"], ["alpha text", "delta"]]
    for f, docs in enumerate(texts):
        lines = [json.dumps({"text": t, "n": f"{f}-{i}"}) + "\n" for i, t in enumerate(docs)]
        (data / f"part-{f}.jsonl").write_text("".join(lines))
    cache, out = tmp_path / "cache", tmp_path / "out"

    create_id_generator_actor()
    try:
        Pipeline(
            "identify",
            stages=[
                FilePartitioningStage(str(data), files_per_partition=1, file_extensions=[".jsonl"]),
                ExactDuplicateIdentification(text_field="text", output_path=str(cache), input_filetype="jsonl"),
            ],
        ).run(RayActorPoolExecutor(show_progress=False))
        write_id_generator_to_disk(str(cache / "exact_id_generator.json"))
    finally:
        kill_id_generator_actor()
    id_files = sorted((cache / "ExactDuplicateIds").glob("*.parquet"))
    removal_ids = sorted(i for f in id_files for i in pq.read_table(f).column(CURATOR_DEDUP_ID_STR).to_pylist())
    assert len(removal_ids) == 3 and all(isinstance(i, int) for i in removal_ids)  # alpha x2, beta x1

    result = TextDuplicatesRemovalWorkflow(
        input_path=str(data),
        ids_to_remove_path=str(cache / "ExactDuplicateIds"),
        output_path=str(out),
        input_filetype="jsonl",
        input_files_per_partition=1,
        duplicate_id_field=CURATOR_DEDUP_ID_STR,
        id_generator_path=str(cache / "exact_id_generator.json"),
        output_filetype="jsonl",
        drop_id_field=True,
    ).run(LocalExecutor())
    assert result.workflow_name == "text_duplicates_removal"
    assert result.get_metadata("num_duplicates_removed") == 3
    kept = [json.loads(line) for p in sorted(out.glob("*.jsonl")) for line in p.read_text().splitlines()]
    assert sorted(d["text"] for d in kept) == ["alpha text", "beta text", "delta", "gamma text"]
    assert all(CURATOR_DEDUP_ID_STR not in d for d in kept)
    with pytest.raises(ValueError):  # the generator actor is gone after the workflow
        get_id_generator_actor()


class FailOnBad(ProcessingStage[DocumentBatch, DocumentBatch]):
    _name = "fail_on_bad"

    def process(self, task: DocumentBatch) -> DocumentBatch | FailedTask:
        return FailedTask() if task.task_id == "t2" else task


def test_failed_task_is_a_failure_not_a_filter_on_the_actor_pool():
    executor = RayActorPoolExecutor(config={"on_error": "skip"}, show_progress=False)
    results = Pipeline("p", stages=[FailOnBad()]).run(executor, initial_tasks=batches())
    assert sorted(t.task_id for t in results) == ["t0", "t1", "t3"]
    (stage,) = executor.last_report.stages
    assert (stage.tasks_failed, stage.tasks_filtered) == (1, 0)
