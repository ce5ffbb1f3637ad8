"""How each stage maps onto Ray Data operators.

- A stage whose `setup` or `teardown` is overridden, that asks for GPUs, or whose
  `ray_stage_spec()` sets `is_actor_stage`, runs in an actor pool (`ActorPoolStrategy`,
  1..N actors, `num_gpus` from its resources, fractions allowed); any other stage runs as Ray
  tasks, which Ray Data fuses with neighbouring task stages of the same resources.
- Batch size: the stage's `batch_size` (1 when it declares none), in tasks.
- A barrier stage (`is_barrier`) gets every input in one call: `repartition(1)` (an all-to-all
  that waits for the whole upstream) and one whole-block batch.
- Ray Data runs one task per block, and a stage's outputs from one batch land in one block.
  So where a stage can emit more tasks than the next stage takes in one batch, the outputs are
  re-split, one task a block (`repartition(target_num_rows_per_block=1)`, streaming): see
  `needs_split`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import ray
from ray.data import ActorPoolStrategy, Dataset

from raycurator.backends.base import effective_batch_size
from raycurator.backends.ray_cluster import ClusterNode, ray_gpus
from raycurator.backends.ray_data.adapter import actor_udf, encode_tasks, task_udf
from raycurator.backends.ray_data.config import RayDataConfig
from raycurator.errors import InsufficientResourcesError, PipelineConfigError
from raycurator.stages.base import ProcessingStage, RayStageSpecKeys
from raycurator.tasks import Task, _EmptyTask

logger = logging.getLogger(__name__)


def _overrides(stage: ProcessingStage, method: str) -> bool:
    return getattr(type(stage), method) is not getattr(ProcessingStage, method)


@dataclass(frozen=True)
class StagePlan:
    """The Ray Data shape of one stage."""

    stage: ProcessingStage
    use_actors: bool
    batch_size: int
    num_cpus: float
    num_gpus: float
    max_actors: int
    barrier: bool
    split_after: bool

    def describe(self) -> str:
        kind = f"actors(1..{self.max_actors})" if self.use_actors else "tasks"
        extra = (", barrier" if self.barrier else "") + (", split after" if self.split_after else "")
        return (
            f"{self.stage.name}: {kind}, batch_size={self.batch_size}, cpus={self.num_cpus}, "
            f"gpus={self.num_gpus}{extra}"
        )


def stage_gpus(stage: ProcessingStage) -> float:
    """GPUs per worker of `stage`; a config error when it asks for GPU memory instead."""
    try:
        return ray_gpus(stage)
    except ValueError as error:
        raise PipelineConfigError(
            f"stage '{stage.name}' asks for gpu_memory_gb={stage.resources.gpu_memory_gb}; RayDataExecutor "
            "needs a GPU count: use Resources(gpus=fraction) instead"
        ) from error


def overrides_lifecycle(stage: ProcessingStage) -> bool:
    """Whether the stage has its own `setup` or `teardown`."""
    return _overrides(stage, "setup") or _overrides(stage, "teardown")


def uses_actors(stage: ProcessingStage) -> bool:
    """Whether the stage needs long-lived workers (set-up state, a teardown, GPUs, or it says so).

    `is_actor_stage: False` in `ray_stage_spec()` runs a stage with `setup` as tasks, each
    call setting it up and tearing it down around its batch; GPU stages always use actors.
    """
    spec = stage.ray_stage_spec()
    if RayStageSpecKeys.IS_ACTOR_STAGE in spec:
        return bool(spec[RayStageSpecKeys.IS_ACTOR_STAGE]) or stage_gpus(stage) > 0
    return overrides_lifecycle(stage) or stage_gpus(stage) > 0


def needs_split(stages: list[ProcessingStage], index: int, from_start_token: bool, mode: str) -> bool:
    """Whether the outputs of `stages[index]` are re-split into one task per block.

    "auto" splits after a stage that declares `is_fanout_stage`, after a barrier, after the
    first stage of a run that starts from the empty start token (a source stage: all tasks come
    from one input), and after a stage whose batches are larger than the next stage's (one
    batch's outputs share a block, which the next stage would otherwise take in one Ray task).
    Nothing is split after the last stage.
    """
    if index == len(stages) - 1 or mode == "never":
        return False
    if mode == "always":
        return True
    stage, following = stages[index], stages[index + 1]
    if stage.ray_stage_spec().get(RayStageSpecKeys.IS_FANOUT_STAGE, False) or stage.is_barrier:
        return True
    if index == 0 and from_start_token:
        return True
    return not following.is_barrier and effective_batch_size(stage) > effective_batch_size(following)


def _max_actors(stage: ProcessingStage, cpus: float, gpus: float, nodes: list[ClusterNode], cap: int | None) -> int:
    if gpus > 0:
        fit = sum(int(node.gpus // gpus) for node in nodes)
        if fit < 1:
            raise InsufficientResourcesError(
                f"stage '{stage.name}' needs {gpus} GPU(s) per worker; the cluster has "
                f"{sum(n.gpus for n in nodes)} GPU(s)"
            )
    elif cpus > 0:
        fit = sum(int(node.cpus // cpus) for node in nodes)
        if fit < 1:
            raise InsufficientResourcesError(
                f"stage '{stage.name}' needs {cpus} CPU(s) per worker; the largest node has "
                f"{max((n.cpus for n in nodes), default=0)}"
            )
    else:
        fit = max(1, int(sum(node.cpus for node in nodes)))
    for bound in (stage.num_workers(), cap):
        if bound is not None:
            fit = min(fit, max(1, int(bound)))
    return max(1, fit)


def plan_stages(
    stages: list[ProcessingStage], nodes: list[ClusterNode], config: RayDataConfig, from_start_token: bool
) -> list[StagePlan]:
    """One `StagePlan` per stage."""
    plans = []
    for index, stage in enumerate(stages):
        cpus, gpus = float(stage.resources.cpus), stage_gpus(stage)
        actors = uses_actors(stage)
        plans.append(
            StagePlan(
                stage=stage,
                use_actors=actors,
                batch_size=effective_batch_size(stage),
                num_cpus=cpus,
                num_gpus=gpus,
                max_actors=_max_actors(stage, cpus, gpus, nodes, config.max_actors_per_stage) if actors else 0,
                barrier=stage.is_barrier,
                split_after=needs_split(stages, index, from_start_token, config.repartition),
            )
        )
    return plans


def source_dataset(tasks: list[Task]) -> Dataset:
    """A dataset of the starting tasks, one task per block (block metadata computed here, no Ray task)."""
    return ray.data.from_blocks([encode_tasks([task]) for task in tasks])


def apply_stage(ds: Dataset, plan: StagePlan, runtime_env: dict[str, Any] | None = None) -> Dataset:
    """`ds` with the stage's operator(s) appended."""
    kwargs: dict[str, Any] = {"batch_format": "pyarrow", "num_cpus": plan.num_cpus}
    if plan.num_gpus:
        kwargs["num_gpus"] = plan.num_gpus
    if runtime_env:
        kwargs["runtime_env"] = runtime_env
    if plan.barrier:
        ds = ds.repartition(1)
        kwargs["batch_size"] = None  # the single block: every input in one call
    else:
        kwargs["batch_size"] = plan.batch_size
    if plan.use_actors:
        ds = ds.map_batches(
            actor_udf(plan.stage),
            compute=ActorPoolStrategy(min_size=1, max_size=plan.max_actors),
            **kwargs,
        )
    else:
        lifecycle = overrides_lifecycle(plan.stage)
        ds = ds.map_batches(task_udf(plan.stage, with_lifecycle=lifecycle), **kwargs)
    if plan.split_after:
        ds = ds.repartition(target_num_rows_per_block=1)
    return ds


def build_dataset(tasks: list[Task], plans: list[StagePlan], runtime_env: dict[str, Any] | None = None) -> Dataset:
    """The lazy dataset running every stage over `tasks`."""
    ds = source_dataset(tasks)
    for plan in plans:
        ds = apply_stage(ds, plan, runtime_env)
    return ds


def starts_from_token(tasks: list[Task]) -> bool:
    """Whether the run starts from the empty start token."""
    return len(tasks) == 1 and isinstance(tasks[0], _EmptyTask)
