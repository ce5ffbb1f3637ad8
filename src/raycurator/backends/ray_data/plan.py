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
- Fitting the cluster (`fit_to_cluster`): Ray Data starts one actor of every actor pool at
  once and each holds its CPUs for the whole run, while task stages need CPUs left over. When
  the pools' first actors plus the largest task stage ask for more CPUs than the cluster has,
  the actors' (and if needed the tasks') CPU requests are scaled down so everything fits: the
  pipeline then shares the cores instead of waiting forever for a CPU that never frees. The
  scaled pools may then grow only as far as the actors' share of the CPUs allows.
- A cheap source stage (the first stage, started from the empty start token, a task stage
  that declares `is_fanout_stage`, such as `FilePartitioningStage`) runs on the driver: its
  outputs become the dataset's blocks (`runs_on_driver`).
"""

from __future__ import annotations

import dataclasses
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
    asked_cpus: float | None = None  # the stage's own request when `fit_to_cluster` scaled `num_cpus`

    def describe(self) -> str:
        kind = f"actors(1..{self.max_actors})" if self.use_actors else "tasks"
        extra = (", barrier" if self.barrier else "") + (", split after" if self.split_after else "")
        scaled = f" (asked {self.asked_cpus})" if self.asked_cpus is not None else ""
        return (
            f"{self.stage.name}: {kind}, batch_size={self.batch_size}, cpus={self.num_cpus}{scaled}, "
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


def runs_on_driver(stage: ProcessingStage, index: int, from_start_token: bool) -> bool:
    """Whether `stage` is a cheap source stage run on the driver (see the module docstring)."""
    return (
        index == 0
        and from_start_token
        and not uses_actors(stage)
        and bool(stage.ray_stage_spec().get(RayStageSpecKeys.IS_FANOUT_STAGE, False))
    )


def _floor(value: float) -> float:
    return max(0.01, int(value * 100) / 100)


def fit_to_cluster(plans: list[StagePlan], total_cpus: float) -> list[StagePlan]:
    """`plans` with CPU requests scaled so that one actor of every pool plus one task fit `total_cpus`."""
    actor_cpus = sum(p.num_cpus for p in plans if p.use_actors)
    task_cpus = max((p.num_cpus for p in plans if not p.use_actors), default=0.0)
    if any(p.split_after or p.barrier for p in plans):  # repartitions run as tasks too
        task_cpus = max(task_cpus, min(1.0, total_cpus / 2))
    if actor_cpus + task_cpus <= total_cpus + 1e-9 or total_cpus <= 0:
        return plans
    actor_share = max(total_cpus - task_cpus, total_cpus / 2) if task_cpus else total_cpus
    actor_factor = min(1.0, actor_share / actor_cpus) if actor_cpus else 1.0
    task_limit = max(0.01, total_cpus - actor_share) if actor_cpus else total_cpus
    scaled_actor_cpus = sum(_floor(p.num_cpus * actor_factor) for p in plans if p.use_actors and p.num_cpus > 0)
    # pools may grow only as far as the actors' share allows, so they never crowd the tasks out again
    pool_cap = max(1, int(actor_share // scaled_actor_cpus)) if scaled_actor_cpus else None
    fitted = []
    for plan in plans:
        if plan.use_actors and actor_factor < 1.0 and plan.num_cpus > 0:
            cpus = _floor(plan.num_cpus * actor_factor)
            max_actors = min(plan.max_actors, pool_cap) if pool_cap else plan.max_actors
            fitted.append(dataclasses.replace(plan, num_cpus=cpus, asked_cpus=plan.num_cpus, max_actors=max_actors))
        elif not plan.use_actors and plan.num_cpus > task_limit:
            fitted.append(dataclasses.replace(plan, num_cpus=_floor(task_limit), asked_cpus=plan.num_cpus))
        else:
            fitted.append(plan)
    logger.warning(
        "RayDataExecutor: the stages ask for %.2f CPU(s) for their first actors plus %.2f for tasks, the cluster has "
        "%.2f; scaled the CPU requests of %s so the pipeline fits",
        actor_cpus, task_cpus, total_cpus, [p.stage.name for p in fitted if p.asked_cpus is not None],
    )  # fmt: skip
    return fitted


def source_dataset(tasks: list[Task]) -> Dataset:
    """A dataset of the starting tasks, one task per block (block metadata computed here, no Ray task)."""
    return ray.data.from_blocks([encode_tasks([task]) for task in tasks])


def apply_stage(
    ds: Dataset, plan: StagePlan, runtime_env: dict[str, Any] | None = None, beacon: Any = None, interval_s: float = 5.0
) -> Dataset:
    """`ds` with the stage's operator(s) appended (its UDF signalling `beacon`, see `progress`)."""
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
            actor_udf(plan.stage, beacon, interval_s),
            compute=ActorPoolStrategy(min_size=1, max_size=plan.max_actors),
            **kwargs,
        )
    else:
        lifecycle = overrides_lifecycle(plan.stage)
        ds = ds.map_batches(task_udf(plan.stage, lifecycle, beacon, interval_s), **kwargs)
    if plan.split_after:
        ds = ds.repartition(target_num_rows_per_block=1)
    return ds


def build_dataset(
    tasks: list[Task],
    plans: list[StagePlan],
    runtime_env: dict[str, Any] | None = None,
    beacon: Any = None,
    interval_s: float = 5.0,
) -> Dataset:
    """The lazy dataset running every stage over `tasks`."""
    ds = source_dataset(tasks)
    for plan in plans:
        ds = apply_stage(ds, plan, runtime_env, beacon, interval_s)
    return ds


def starts_from_token(tasks: list[Task]) -> bool:
    """Whether the run starts from the empty start token."""
    return len(tasks) == 1 and isinstance(tasks[0], _EmptyTask)
