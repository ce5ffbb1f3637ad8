"""RayDataExecutor: runs a pipeline as one streaming Ray Data dataset."""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import ray
from ray.data import DataContext

from raycurator.backends.base import BaseExecutor, BaseStageAdapter, stage_error, starting_tasks
from raycurator.backends.outputs import RunOutputs
from raycurator.backends.ray_cluster import ClusterNode, RayConnection, alive_nodes, run_setup_on_nodes
from raycurator.backends.ray_data.adapter import decode_tasks
from raycurator.backends.ray_data.config import RayDataConfig
from raycurator.backends.ray_data.plan import (
    StagePlan,
    build_dataset,
    fit_to_cluster,
    plan_stages,
    runs_on_driver,
    starts_from_token,
)
from raycurator.backends.ray_data.progress import ProgressBeacon, ProgressWatch
from raycurator.errors import (
    InsufficientResourcesError,
    PipelineConfigError,
    PipelineStalledError,
    StageExecutionError,
)
from raycurator.stages.base import ProcessingStage
from raycurator.tasks import Task

logger = logging.getLogger(__name__)


class RayDataExecutor(BaseExecutor):
    """Runs stages on Ray Data: a dataset of tasks, one `map_batches` per stage.

    Stages stream: a task moves on as soon as its block is produced, and Ray Data's
    backpressure bounds what is in flight. Payloads stay in Ray's object store; the driver
    only fetches the last stage's outputs. Output order is not guaranteed unless
    `preserve_order` is set. See `plan` for how stages become operators and `RayDataConfig`
    for the config keys.
    """

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self.options = RayDataConfig.from_dict(self.config)
        self.last_plan: list[StagePlan] = []

    def execute(self, stages: list[ProcessingStage], initial_tasks: list[Task] | None = None) -> list[Task]:
        """Run `stages` over `initial_tasks` (default: the empty start token); the last stage's outputs."""
        if not stages:
            raise PipelineConfigError("RayDataExecutor.execute needs at least one stage")
        outputs = RunOutputs(stages)  # refuses writers into input folders before anything starts
        tasks = starting_tasks(initial_tasks)
        if not tasks:
            return []
        outputs.open()
        try:
            results = self._execute(stages, tasks)
        except BaseException:
            outputs.close(succeeded=False)
            raise
        outputs.close(succeeded=True)
        return results

    def _execute(self, stages: list[ProcessingStage], tasks: list[Task]) -> list[Task]:
        options = self.options
        with RayConnection(options.address, options.runtime_env, options.num_cpus, options.ray_init_kwargs):
            nodes = alive_nodes()
            if not nodes:
                raise InsufficientResourcesError("no alive Ray node to run on")
            node_stages = [s for s in stages if type(s).setup_on_node is not ProcessingStage.setup_on_node]
            from_token = starts_from_token(tasks)
            if options.source_on_driver and runs_on_driver(stages[0], 0, from_token):
                tasks = _run_on_driver(stages[0], tasks)
                stages, from_token = stages[1:], False
                logger.info("RayDataExecutor: ran the source stage on the driver: %d task(s)", len(tasks))
            if not stages or not tasks:
                self.last_plan = []
                return tasks
            plans = plan_stages(stages, nodes, options, from_token)
            if options.fit_to_cluster:
                plans = fit_to_cluster(plans, sum(n.cpus for n in nodes))
            self.last_plan = plans
            logger.info("RayDataExecutor plan:\n  %s", "\n  ".join(p.describe() for p in plans))
            if node_stages:
                run_setup_on_nodes(node_stages, nodes)
            with _data_context(options):
                results, failure = _run(tasks, plans, options, nodes)
        if failure is not None:
            # Ray's error, the iterator and the dataset form reference cycles that keep the
            # failed run's actors (and the CPUs they hold) alive until a garbage collection.
            gc.collect()
            raise failure
        return results


def _run_on_driver(stage: ProcessingStage, tasks: list[Task]) -> list[Task]:
    adapter = BaseStageAdapter(stage)
    try:
        return adapter.process_batch(tasks)
    except Exception as error:
        raise stage_error(stage, tasks, error) from error


def _run(
    tasks: list[Task], plans: list[StagePlan], options: RayDataConfig, nodes: list[ClusterNode]
) -> tuple[list[Task], Exception | None]:
    """Build and run the dataset: (outputs, None), or ([], the stage error a UDF raised, or the stall).

    Other errors propagate. A stage error is returned rather than raised, so the error the
    caller raises holds no frame of the failed run.
    """
    beacon = ProgressBeacon.remote() if options.stall_timeout_s else None
    interval = max(0.2, min(5.0, (options.stall_timeout_s or 50.0) / 10))
    try:
        dataset = build_dataset(tasks, plans, options.runtime_env, beacon, interval)
        return _collect(dataset, plans, options.stall_timeout_s, beacon, nodes), None
    except PipelineStalledError as stalled:
        return [], stalled
    except Exception as error:
        cause = find_stage_error(error)
        if cause is None:
            raise
        failure = cause.detached()
    finally:
        if beacon is not None:
            ray.kill(beacon)
    return [], failure


def _collect(
    dataset: Any, plans: list[StagePlan], stall_timeout_s: float | None, beacon: Any, nodes: list[ClusterNode]
) -> list[Task]:
    """The dataset's outputs; with a beacon, consumed in a thread the driver watches for stalls."""
    if beacon is None:
        return _drain(dataset)
    executors: list[Any] = []
    create = getattr(dataset, "_create_executor", None)
    if create is not None:  # keep a handle on Ray Data's executor, to shut it down on a stall

        def capture() -> Any:
            executor = create()
            executors.append(executor)
            return executor

        dataset._create_executor = capture
    outcome: dict[str, Any] = {}

    def consume() -> None:
        try:
            outcome["results"] = _drain(dataset)
        except BaseException as error:  # handed to the driver's thread below
            outcome["error"] = error

    thread = threading.Thread(target=consume, name="raycurator-ray-data-consumer", daemon=True)
    thread.start()
    watch = ProgressWatch(beacon)
    poll = max(0.1, min(2.0, stall_timeout_s / 20))
    while thread.is_alive():
        thread.join(timeout=poll)
        if thread.is_alive() and watch.silence_s() > stall_timeout_s:
            error = _stall_error(plans, stall_timeout_s, nodes)
            for executor in executors:
                executor.shutdown(force=True, exception=error)
            thread.join(timeout=30)
            raise error
    if "error" in outcome:
        raise outcome["error"]
    return outcome["results"]


def _drain(dataset: Any) -> list[Task]:
    results: list[Task] = []
    for batch in dataset.iter_batches(batch_format="pyarrow", batch_size=None):
        results.extend(decode_tasks(batch))
    return results


def _stall_error(plans: list[StagePlan], stall_timeout_s: float, nodes: list[ClusterNode]) -> PipelineStalledError:
    try:
        free = ray.available_resources()
    except Exception:  # the message matters more than this detail
        free = {}
    stages = "; ".join(p.describe() for p in plans)
    return PipelineStalledError(
        f"RayDataExecutor made no progress for {stall_timeout_s:.0f} s: no stage ran or finished a batch. "
        f"Stages: {stages}. Cluster: {sum(n.cpus for n in nodes):g} CPU(s), {sum(n.gpus for n in nodes):g} GPU(s) "
        f"on {len(nodes)} node(s); free now: {free.get('CPU', 0):g} CPU(s), {free.get('GPU', 0):g} GPU(s). "
        "The stages' actor pools probably hold the resources the others wait for: lower the stages' resources or "
        "max_actors_per_stage, keep fit_to_cluster on, or raise stall_timeout_s if a stage is just slow to start"
    )


def find_stage_error(error: BaseException) -> StageExecutionError | None:
    """The `StageExecutionError` a UDF raised, found in the chain of errors Ray Data wraps it in."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, StageExecutionError):
            return current
        if isinstance(current, ray.exceptions.RayTaskError):
            pending.append(getattr(current, "cause", None))
        pending.extend([current.__cause__, current.__context__])
    return None


@contextmanager
def _data_context(options: RayDataConfig) -> Iterator[DataContext]:
    """The current `DataContext` with this run's settings; previous values restored afterwards."""
    context = DataContext.get_current()
    saved = (
        context.enable_progress_bars,
        context.execution_options.preserve_order,
        context.raise_original_map_exception,
    )
    context.enable_progress_bars = options.show_progress
    context.execution_options.preserve_order = options.preserve_order
    context.raise_original_map_exception = True  # our StageExecutionError, not a bare UserCodeException
    try:
        yield context
    finally:
        (
            context.enable_progress_bars,
            context.execution_options.preserve_order,
            context.raise_original_map_exception,
        ) = saved
