"""How RayDataExecutor maps stages onto Ray Data operators, and its config (no Ray needed)."""

from __future__ import annotations

import pytest

from raycurator import DocumentBatch, ProcessingStage, Resources
from raycurator.backends.ray_cluster import ClusterNode
from raycurator.backends.ray_data import RayDataConfig, RayDataExecutor
from raycurator.backends.ray_data.adapter import decode_tasks, encode_tasks, udf_name
from raycurator.backends.ray_data.plan import needs_split, plan_stages, starts_from_token
from raycurator.errors import InsufficientResourcesError, PipelineConfigError
from raycurator.stages.base import RayStageSpecKeys
from raycurator.stages.shuffle import ShuffleStage
from raycurator.tasks import EmptyTask, _EmptyTask

NODES = [ClusterNode("head", cpus=2.0, gpus=0.0, is_head=True)]
GPU_NODES = [ClusterNode("head", cpus=8.0, gpus=2.0, is_head=True)]


class Plain(ProcessingStage[DocumentBatch, DocumentBatch]):
    def __init__(self, name: str = "plain", batch_size: int = 1, resources: Resources | None = None) -> None:
        self._name = name
        self._batch_size = batch_size
        self._resources = resources

    def process(self, task: DocumentBatch) -> DocumentBatch:
        return task


class WithSetup(Plain):
    def setup(self, worker_metadata=None) -> None:
        self.ready = True


class WithTeardown(Plain):
    def teardown(self) -> None:
        pass


class FanOut(Plain):
    def ray_stage_spec(self) -> dict:
        return {RayStageSpecKeys.IS_FANOUT_STAGE: True}


class SetupAsTasks(WithSetup):
    def ray_stage_spec(self) -> dict:
        return {RayStageSpecKeys.IS_ACTOR_STAGE: False}


class Capped(WithSetup):
    def num_workers(self) -> int | None:
        return 1


def plan(stages, nodes=NODES, from_token=False, **config):
    return plan_stages(stages, nodes, RayDataConfig.from_dict(config), from_token)


def test_stages_with_worker_state_or_gpus_run_in_actor_pools() -> None:
    plans = plan([Plain(), WithSetup(), WithTeardown(), Plain(resources=Resources(gpus=0.5))], nodes=GPU_NODES)
    assert [p.use_actors for p in plans] == [False, True, True, True]
    assert [p.num_gpus for p in plans] == [0.0, 0.0, 0.0, 0.5]
    assert plans[3].max_actors == 4  # two GPUs, half a GPU each
    assert plans[1].max_actors == 8  # eight CPUs, one each


def test_is_actor_stage_in_the_spec_decides_except_for_gpu_stages() -> None:
    plans = plan([SetupAsTasks(), SetupAsTasks(resources=Resources(gpus=1))], nodes=GPU_NODES)
    assert [p.use_actors for p in plans] == [False, True]


def test_pool_size_follows_resources_num_workers_and_the_config_cap() -> None:
    assert plan([WithSetup(resources=Resources(cpus=0.5))])[0].max_actors == 4
    assert plan([Capped()])[0].max_actors == 1
    assert plan([WithSetup()], max_actors_per_stage=1)[0].max_actors == 1


def test_a_stage_too_big_for_the_cluster_is_a_clear_error() -> None:
    with pytest.raises(InsufficientResourcesError, match=r"'big'.*4.0 CPU"):
        plan([WithSetup(name="big", resources=Resources(cpus=4))])
    with pytest.raises(InsufficientResourcesError, match="GPU"):
        plan([Plain(name="gpu", resources=Resources(gpus=1))])
    with pytest.raises(PipelineConfigError, match="gpu_memory_gb"):
        plan([Plain(resources=Resources(gpu_memory_gb=10))])


def test_batch_sizes_and_barriers() -> None:
    plans = plan([Plain(batch_size=4), ShuffleStage("key")])
    assert [p.batch_size for p in plans] == [4, 1]
    assert [p.barrier for p in plans] == [False, True]


@pytest.mark.parametrize(
    ("stages", "from_token", "mode", "expected"),
    [
        ([FanOut(), Plain()], False, "auto", [True, False]),  # declared fan-out
        ([Plain(), Plain()], True, "auto", [True, False]),  # a source stage fed the start token
        ([Plain(), Plain()], False, "auto", [False, False]),  # 1 → 1 keeps one task a block
        ([Plain(batch_size=4), Plain(batch_size=2)], False, "auto", [True, False]),  # bigger batches before smaller
        ([Plain(batch_size=2), Plain(batch_size=4)], False, "auto", [False, False]),
        ([ShuffleStage("key"), Plain()], False, "auto", [True, False]),  # after a barrier
        ([Plain(), Plain(), Plain()], False, "always", [True, True, False]),
        ([FanOut(), Plain()], True, "never", [False, False]),
    ],
)
def test_when_outputs_are_split_one_task_per_block(stages, from_token, mode, expected) -> None:
    assert [needs_split(stages, i, from_token, mode) for i in range(len(stages))] == expected


def test_config_is_validated() -> None:
    with pytest.raises(PipelineConfigError, match=r"unknown RayDataExecutor config key\(s\) \['moed'\].*valid keys"):
        RayDataExecutor(config={"moed": 1})
    with pytest.raises(PipelineConfigError, match="repartition"):
        RayDataExecutor(config={"repartition": "sometimes"})
    with pytest.raises(PipelineConfigError, match="max_actors_per_stage"):
        RayDataExecutor(config={"max_actors_per_stage": 0})
    with pytest.raises(PipelineConfigError, match="at least one stage"):
        RayDataExecutor().execute([])
    executor = RayDataExecutor(config={"address": "ray://nowhere:1", "runtime_env": {"env_vars": {"A": "1"}}})
    assert executor.options.address == "ray://nowhere:1"


def test_tasks_round_trip_through_a_block() -> None:
    import pyarrow as pa

    tasks = [DocumentBatch("a", "ds", pa.table({"text": ["x", "y"]}), _metadata={"source_files": ["f"]})]
    block = encode_tasks(tasks)
    assert block.num_rows == 1 and block.column_names == ["task"]
    (back,) = decode_tasks(block)
    assert back.task_id == "a" and back.to_pyarrow().equals(tasks[0].to_pyarrow()) and back.source_files == ["f"]
    assert decode_tasks(encode_tasks([])) == []


def test_start_token_and_operator_names() -> None:
    assert starts_from_token([_EmptyTask("empty", "empty", None)])
    assert starts_from_token([EmptyTask])
    assert not starts_from_token([DocumentBatch("a", "ds", None)])
    assert udf_name(Plain(name="Score_word count")) == "Score_word_count"
    assert udf_name(Plain(name="1st")) == "_1st"
