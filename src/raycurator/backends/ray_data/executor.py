"""RayDataExecutor: runs a pipeline as one streaming Ray Data dataset."""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import ray
from ray.data import DataContext

from raycurator.backends.base import BaseExecutor, starting_tasks
from raycurator.backends.outputs import RunOutputs
from raycurator.backends.ray_cluster import RayConnection, alive_nodes, run_setup_on_nodes
from raycurator.backends.ray_data.adapter import decode_tasks
from raycurator.backends.ray_data.config import RayDataConfig
from raycurator.backends.ray_data.plan import StagePlan, build_dataset, plan_stages, starts_from_token
from raycurator.errors import InsufficientResourcesError, PipelineConfigError, StageExecutionError
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
            plans = plan_stages(stages, nodes, options, starts_from_token(tasks))
            self.last_plan = plans
            logger.info("RayDataExecutor plan:\n  %s", "\n  ".join(p.describe() for p in plans))
            node_stages = [s for s in stages if type(s).setup_on_node is not ProcessingStage.setup_on_node]
            if node_stages:
                run_setup_on_nodes(node_stages, nodes)
            with _data_context(options):
                results, failure = _run(tasks, plans, options.runtime_env)
        if failure is not None:
            # Ray's error, the iterator and the dataset form reference cycles that keep the
            # failed run's actors (and the CPUs they hold) alive until a garbage collection.
            gc.collect()
            raise failure
        return results


def _run(
    tasks: list[Task], plans: list[StagePlan], runtime_env: dict[str, Any] | None
) -> tuple[list[Task], StageExecutionError | None]:
    """Build and run the dataset: (outputs, None), or ([], the stage error a UDF raised).

    Other errors propagate. A stage error is returned rather than raised, so the error the
    caller raises holds no frame of the failed run.
    """
    try:
        return _collect(build_dataset(tasks, plans, runtime_env)), None
    except Exception as error:
        cause = find_stage_error(error)
        if cause is None:
            raise
        failure = StageExecutionError(
            cause.stage_name,
            cause.task_ids,
            cause.source_files,
            cause.error_type,
            cause.error_message,
            cause.traceback_text,
        )
    return [], failure


def _collect(dataset: Any) -> list[Task]:
    results: list[Task] = []
    for batch in dataset.iter_batches(batch_format="pyarrow", batch_size=None):
        results.extend(decode_tasks(batch))
    return results


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
