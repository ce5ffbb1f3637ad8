"""NeMo Curator 1.4 core API at the same paths: tasks, sentinels, stages.base, resources, partitioning,
workflow results, perf utils (no Ray needed here)."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pytest

from raycurator.backends.local import LocalExecutor
from raycurator.errors import PipelineConfigError, StageExecutionError
from raycurator.pipeline import Pipeline
from raycurator.pipeline.pipeline import assign_root_task_ids
from raycurator.pipeline.workflow import WorkflowBase, WorkflowRunResult
from raycurator.stages.base import CompositeStage, ProcessingStage, get_stage_class
from raycurator.stages.client_partitioning import ClientPartitioningStage
from raycurator.stages.resources import MIN_GPU_FRACTION, Resources
from raycurator.tasks import DocumentBatch, EmptyTask, FileGroupTask, Task
from raycurator.tasks.sentinels import FailedTask, NoneTask, SentinelTask
from raycurator.tasks.utils import TaskPerfUtils
from raycurator.utils.performance_utils import StagePerfStats, StageTimer


class KeepLong(ProcessingStage[DocumentBatch, DocumentBatch]):
    """NeMo Curator 1.4 style: builds output tasks without a task_id, filters with NoneTask."""

    name = "keep_long"

    def process(self, task: DocumentBatch) -> DocumentBatch | NoneTask:
        frame = task.to_pandas()
        kept = frame[frame["text"].str.len() > 3]
        if kept.empty:
            return NoneTask()
        return DocumentBatch(dataset_name=task.dataset_name, data=kept, _metadata=task._metadata)


class Split(ProcessingStage[DocumentBatch, DocumentBatch]):
    name = "split"

    def process(self, task: DocumentBatch) -> list[DocumentBatch]:
        frame = task.to_pandas()
        return [DocumentBatch(dataset_name=task.dataset_name, data=frame.iloc[[i]]) for i in range(len(frame))]


class FailOnBad(ProcessingStage[DocumentBatch, DocumentBatch]):
    name = "fail_on_bad"

    def process(self, task: DocumentBatch) -> DocumentBatch | FailedTask:
        if "bad" in task.to_pandas()["text"].tolist():
            return FailedTask()
        return task


def _batches() -> list[DocumentBatch]:
    return [
        DocumentBatch(dataset_name="d", data=pd.DataFrame({"text": ["hello there", "hi"]})),
        DocumentBatch(dataset_name="d", data=pd.DataFrame({"text": ["no"]})),
        DocumentBatch(dataset_name="d", data=pd.DataFrame({"text": ["a longer one", "another long one"]})),
    ]


# -- tasks and sentinels -----------------------------------------------------------------------------
def test_tasks_made_without_ids_get_deterministic_ids_from_their_parents():
    results = Pipeline("p", stages=[KeepLong(), Split()]).run(LocalExecutor(), initial_tasks=_batches())
    ids = sorted(t.task_id for t in results)
    assert ids == ["0_0_0", "2_0_0", "2_0_1"]  # batch 1 was filtered (NoneTask)
    again = Pipeline("p", stages=[KeepLong(), Split()]).run(LocalExecutor(), initial_tasks=_batches())
    assert sorted(t.task_id for t in again) == ids
    texts = sorted(t.to_pandas()["text"].iloc[0] for t in results)
    assert texts == ["a longer one", "another long one", "hello there"]


def test_assign_root_task_ids_keeps_given_ids():
    tasks = [
        DocumentBatch(dataset_name="d", data=pa.table({"text": ["x"]})),
        DocumentBatch("mine", "d", pa.table({"text": ["y"]})),
    ]
    assert [t.task_id for t in assign_root_task_ids(tasks)] == ["0", "mine"]


def test_none_task_counts_as_filtered():
    stage = KeepLong()
    outputs = stage.process_batch(_batches())
    assert len(outputs) == 2
    assert stage._consume_output_counts() == [1, 0, 1]


def test_failed_task_fails_the_input_naming_stage_and_task():
    bad = DocumentBatch("b-1", "d", pa.table({"text": ["bad"]}))
    with pytest.raises(StageExecutionError) as caught:
        Pipeline("p", stages=[FailOnBad()]).run(LocalExecutor(), initial_tasks=[bad])
    assert caught.value.stage_name == "fail_on_bad" and "b-1" in caught.value.task_ids
    assert "FailedTask" in str(caught.value)


def test_sentinels_carry_no_data_and_empty_task_works_both_ways():
    for sentinel in (NoneTask(), FailedTask(), EmptyTask()):
        assert isinstance(sentinel, SentinelTask) and isinstance(sentinel, Task)
        assert sentinel.data is None and sentinel.num_items == 0 and sentinel.validate()
    fresh = EmptyTask()
    assert fresh is not EmptyTask and isinstance(fresh, EmptyTask) and isinstance(EmptyTask, EmptyTask)
    assert not isinstance(NoneTask(), EmptyTask)
    assert NoneTask().dataset_name == "none" and FailedTask().dataset_name == "failed"


# -- stages.base ---------------------------------------------------------------------------------------
class Upper(ProcessingStage[DocumentBatch, DocumentBatch]):
    name = "upper"

    def process(self, task: DocumentBatch) -> DocumentBatch:
        with self._time_metric("upper_s"):
            frame = task.to_pandas().assign(text=lambda f: f["text"].str.upper())
        return DocumentBatch(dataset_name=task.dataset_name, data=frame)


class TwoUppers(CompositeStage[DocumentBatch, DocumentBatch]):
    name = "two_uppers"

    def decompose(self) -> list[ProcessingStage]:
        return [Upper().with_(name="first"), Upper().with_(name="second")]


def test_get_stage_class_from_stages_base_raises_key_error_for_unknown_names():
    assert get_stage_class("Upper") is Upper
    with pytest.raises(KeyError, match="unknown stage 'NoSuchStage'"):
        get_stage_class("NoSuchStage")


def test_with_takes_nemo_curators_full_parameter_list():
    stage = Upper()
    configured = stage.with_(
        name="u2",
        resources=Resources(cpus=2.0),
        batch_size=4,
        runtime_env={"env_vars": {"A": "1"}},
        ray_stage_spec={"max_task_retries": 7},
        xenna_stage_spec={"slots_per_actor": 2},
        num_workers=3,
    )
    assert (configured.name, configured.resources.cpus, configured.batch_size) == ("u2", 2.0, 4)
    assert configured.runtime_env == {"env_vars": {"A": "1"}}
    assert configured.ray_stage_spec() == {"max_task_retries": 7}
    assert configured.xenna_stage_spec() == {"slots_per_actor": 2}
    assert configured.num_workers() == 3 and configured.num_workers_per_node() is None
    # the original is unchanged; None resets a worker count to the executor's choice
    assert (stage.name, stage.num_workers(), stage.runtime_env, stage.ray_stage_spec()) == ("upper", None, None, {})
    assert configured.with_(num_workers=None).num_workers() is None
    assert stage.with_(num_workers_per_node=0.5).num_workers_per_node() == 0.5
    with pytest.raises(PipelineConfigError, match="not both"):
        configured.with_(num_workers_per_node=1.0)
    with pytest.raises(PipelineConfigError, match="num_workers"):
        stage.with_(xenna_stage_spec={"num_workers": 2})
    # spec overrides merge over the stage's own spec and survive a further copy
    assert configured.with_(ray_stage_spec={"on_error": "skip"}).ray_stage_spec() == {
        "max_task_retries": 7,
        "on_error": "skip",
    }


def test_composite_with_accepts_the_new_options_and_describes_itself():
    composite = TwoUppers().with_({"first": {"num_workers": 2, "runtime_env": {"env_vars": {"B": "2"}}}})
    first, second = Pipeline("p", stages=[composite]).build()
    assert first.num_workers() == 2 and first.runtime_env == {"env_vars": {"B": "2"}}
    assert second.num_workers() is None
    assert TwoUppers().get_description() == "two_uppers: first -> second"


def test_stage_introspection_helpers():
    assert Split().is_fanout_stage() and not Upper().is_fanout_stage()
    assert not Upper().supports_batch_processing()
    assert Upper().get_config() == {
        "name": "upper",
        "resources": Resources(),
        "batch_size": 1,
        "supports_batch_processing": False,
    }
    stage = Upper()
    stage.process(DocumentBatch("t", "d", pa.table({"text": ["a"]})))
    assert stage._consume_custom_metrics()["upper_s"] >= 0


# -- resources, perf utils ---------------------------------------------------------------------------
def test_gpu_memory_turns_into_a_fraction_of_at_least_min_gpu_fraction():
    assert MIN_GPU_FRACTION == 0.1
    assert Resources(gpu_memory_gb=2).gpus_for_device(80) == MIN_GPU_FRACTION
    assert Resources(gpu_memory_gb=40).gpus_for_device(80) == 0.5
    with pytest.raises(PipelineConfigError, match="more than one device"):
        Resources(gpu_memory_gb=100).gpus_for_device(80)


def test_performance_utils_path_and_nemo_style_timer():
    timer = StageTimer(Upper())  # NeMo Curator passes the stage
    assert timer.stage_name == "upper"
    timer.reinit(1024 * 1024)
    with timer.time_process(5):
        pass
    stats = timer.log_stats()
    assert stats.num_items_processed == 5 and stats.input_data_size_mb == 1.0
    stats.custom_metrics["x"] = 1.0
    stats.reset()
    assert (stats.num_items_processed, stats.custom_metrics, stats.stage_name) == (0, {}, "upper")


def test_task_perf_utils_take_workflow_results_and_aggregate():
    a, b = DocumentBatch("a", "d", pa.table({"text": ["x"]})), DocumentBatch("b", "d", pa.table({"text": ["y"]}))
    a.add_stage_perf(StagePerfStats("read", process_time=1.0, num_items_processed=3))
    b.add_stage_perf(StagePerfStats("read", process_time=3.0, num_items_processed=5))
    result = WorkflowRunResult(workflow_name="w")
    result.add_pipeline_tasks("one", [a])
    result.add_pipeline_tasks("two", [b])
    assert TaskPerfUtils.collect_stage_metrics(result)["read"]["num_items_processed"].tolist() == [3, 5]
    assert TaskPerfUtils.get_aggregated_stage_stat(result, "re", "num_items_processed") == 8.0
    aggregated = TaskPerfUtils.aggregate_task_metrics(result)
    assert aggregated["one_read_process_time_sum"] == 1.0 and aggregated["two_read_num_items_processed_mean"] == 5.0
    assert TaskPerfUtils.aggregate_task_metrics([a, b], prefix="run")["run_read_process_time_mean"] == 2.0
    with pytest.raises(TypeError):
        TaskPerfUtils.collect_stage_metrics(a)


def test_workflow_run_result_and_base():
    result = WorkflowRunResult(workflow_name="dedup")
    result.add_pipeline_tasks("identification", None)
    result.extend_metadata({"a": 1})
    result.add_metadata("b", 2)
    assert result.pipeline_tasks == {"identification": []}
    assert (result.get_metadata("a"), result.get_metadata("b"), result.get_metadata("c")) == (1, 2, None)

    class Nothing(WorkflowBase):
        def run(self) -> WorkflowRunResult:
            return WorkflowRunResult(workflow_name="nothing")

    assert Nothing().run().workflow_name == "nothing"
    with pytest.raises(TypeError):
        WorkflowBase()  # abstract


# -- pipeline.run(checkpoint_path) -------------------------------------------------------------------
def test_checkpoint_path_on_an_executor_that_cannot_resume_is_refused(tmp_path):
    with pytest.raises(PipelineConfigError, match="LocalExecutor cannot resume"):
        Pipeline("p", stages=[Upper()]).run(LocalExecutor(), initial_tasks=_batches(), checkpoint_path=tmp_path)


# -- client partitioning -------------------------------------------------------------------------------
def test_client_partitioning_lists_root_or_json_list(tmp_path):
    root = tmp_path / "data"
    (root / "sub").mkdir(parents=True)
    for name in ("a.jsonl", "b.jsonl", "sub/c.jsonl", "notes.txt"):
        (root / name).write_text("{}\n")
    all_files = ClientPartitioningStage(str(root), file_extensions=[".jsonl"], files_per_partition=2).process(EmptyTask)
    assert [len(t.data) for t in all_files] == [2, 1]
    assert all(isinstance(t, FileGroupTask) and t._metadata["total_partitions"] == 2 for t in all_files)
    listing = tmp_path / "list.json"
    listing.write_text(json.dumps([str(root / "sub/c.jsonl"), str(root / "a.jsonl"), str(root / "a.jsonl")]))
    stage = ClientPartitioningStage(str(root), input_list_json_path=str(listing))
    assert stage.name == "client_partitioning"
    assert [t.data for t in stage.process(EmptyTask)] == [[str(root / "a.jsonl")], [str(root / "sub/c.jsonl")]]
    listing.write_text(json.dumps(["/elsewhere/x.jsonl"]))
    with pytest.raises(ValueError, match=r"entry 0: /elsewhere/x\.jsonl is not under"):
        stage.process(EmptyTask)
