"""Stage adapters for Ray Data: tasks travel as pickled objects in one binary column.

A Ray Data block of this backend is an Arrow table with a single column `task`; every row
holds one `Task` serialised by Ray's cloudpickle in the driver or a worker of this run (never
bytes read from input files). `map_batches` hands a stage's UDF such a table; the UDF decodes
the tasks, runs the stage through `BaseStageAdapter` (timing, perf stats) and encodes the
outputs. Stateless stages run as plain functions (Ray tasks); stages with worker state run as
callable classes (Ray Data actor pools), whose constructor calls `setup` and whose `__del__`
calls `teardown` when Ray Data shuts the pool down gracefully.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import ray
from ray import cloudpickle

from raycurator.backends.base import BaseStageAdapter, WorkerMetadata, stage_error
from raycurator.backends.ray_data.progress import active
from raycurator.stages.base import ProcessingStage
from raycurator.tasks import Task

logger = logging.getLogger(__name__)

TASK_COLUMN = "task"
_SCHEMA = pa.schema([pa.field(TASK_COLUMN, pa.large_binary())])


def encode_tasks(tasks: list[Task]) -> pa.Table:
    """An Arrow table of one `task` column, one pickled task a row."""
    payloads = [cloudpickle.dumps(task) for task in tasks]
    return pa.Table.from_arrays([pa.array(payloads, type=pa.large_binary())], schema=_SCHEMA)


def decode_tasks(table: pa.Table) -> list[Task]:
    """The tasks of a table made by `encode_tasks` (only ever tables this backend made)."""
    if table.num_rows == 0:
        return []
    return [cloudpickle.loads(payload) for payload in table.column(TASK_COLUMN).to_pylist()]


def _run(adapter: BaseStageAdapter, batch: pa.Table) -> pa.Table:
    tasks = decode_tasks(batch)
    if not tasks:
        return encode_tasks([])
    try:
        outputs = adapter.process_batch(tasks)
    except Exception as error:
        raise stage_error(adapter.stage, tasks, error) from None
    return encode_tasks(outputs)


def udf_name(stage: ProcessingStage) -> str:
    """A Python identifier for the stage (what Ray Data shows as the operator name)."""
    name = re.sub(r"\W", "_", stage.name) or "stage"
    return name if name[0].isalpha() or name[0] == "_" else f"_{name}"


def task_udf(
    stage: ProcessingStage, with_lifecycle: bool = False, beacon: Any = None, interval_s: float = 5.0
) -> Callable[[pa.Table], pa.Table]:
    """A function running `stage` on one batch, as a Ray task (signalling `beacon` while it runs).

    With `with_lifecycle` (a stage with `setup`/`teardown` that asked not to run in actors)
    every call sets the stage up and tears it down around its batch.
    """

    def run_batch(batch: pa.Table) -> pa.Table:
        with active(beacon, interval_s):
            adapter = BaseStageAdapter(stage)
            if not with_lifecycle:
                return _run(adapter, batch)
            try:
                adapter.setup(WorkerMetadata(worker_id=ray.get_runtime_context().get_worker_id()))
            except Exception as error:
                raise stage_error(stage, [], error) from None
            try:
                return _run(adapter, batch)
            finally:
                adapter.teardown()

    run_batch.__name__ = run_batch.__qualname__ = udf_name(stage)
    return run_batch


class StageActor:
    """Callable class for Ray Data actor pools: one stage, set up once per actor.

    The stage travels as a class attribute of the per-stage subclass `actor_udf` makes (not
    as a constructor argument, which Ray would keep in the object store for actor restarts).
    """

    stage: ProcessingStage
    beacon: Any = None
    interval_s: float = 5.0

    def __init__(self) -> None:
        with active(type(self).beacon, type(self).interval_s):
            self._set_up()

    def _set_up(self) -> None:
        stage = type(self).stage
        self.adapter = BaseStageAdapter(stage)
        context = ray.get_runtime_context()
        self.worker_metadata = WorkerMetadata(worker_id=context.get_worker_id())
        # A failing set-up is raised from the first batch: an error raised here would reach the
        # driver as an ActorDiedError carrying only text, not the StageExecutionError.
        self.setup_error: Exception | None = None
        try:
            self.adapter.setup(self.worker_metadata)
        except Exception as error:
            self.setup_error = stage_error(stage, [], error)
        self._torn_down = self.setup_error is not None

    def __call__(self, batch: pa.Table) -> pa.Table:
        if self.setup_error is not None:
            raise self.setup_error
        with active(type(self).beacon, type(self).interval_s):
            return _run(self.adapter, batch)

    def __del__(self) -> None:
        if getattr(self, "_torn_down", True):
            return
        self._torn_down = True
        try:
            self.adapter.teardown()
        except Exception as error:  # never raise from a finaliser
            logger.warning("teardown of stage '%s' failed: %s", self.adapter.stage.name, error)


def actor_udf(stage: ProcessingStage, beacon: Any = None, interval_s: float = 5.0) -> type[StageActor]:
    """A `StageActor` subclass named after the stage (what Ray Data shows as the operator name)."""
    name = udf_name(stage)
    namespace = {
        "__module__": StageActor.__module__,
        "__qualname__": name,
        "stage": stage,
        "beacon": beacon,
        "interval_s": interval_s,
    }
    return type(name, (StageActor,), namespace)
