"""Backend-neutral pieces: worker context, the base stage adapter, the executor interface."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from raycurator.backends.failures import TaskFailure
from raycurator.errors import PipelineConfigError, SkippedRecord, StageExecutionError
from raycurator.perf import StageTimer
from raycurator.stages.base import ProcessingStage, TaskFailedError
from raycurator.tasks import EmptyTask, FailedTask, NoneTask, Task, _EmptyTask

logger = logging.getLogger(__name__)


@dataclass
class NodeInfo:
    """The node a worker runs on."""

    node_id: str = ""


@dataclass
class WorkerMetadata:
    """The worker (actor or process) running a stage, and what it was given."""

    worker_id: str = ""
    allocation: Any = None


class BaseStageAdapter:
    """Runs one stage for a backend: delegates life-cycle calls and times every batch."""

    def __init__(self, stage: ProcessingStage) -> None:
        self.stage = stage
        self._timer = StageTimer(stage.name)
        self.last_output_counts: list[int] | None = None
        self.last_custom_metrics: dict[str, float] = {}  # what the last successful call logged
        self.last_skipped_records: list[SkippedRecord] = []  # records the last successful call skipped
        self.last_process_time = 0.0  # seconds the last successful call spent in the stage

    def process_batch(self, tasks: list[Task]) -> list[Task]:
        """Run the stage's `process_batch`, attach one `StagePerfStats` to every output task."""
        self.stage._consume_custom_metrics()
        self.stage._consume_output_counts()
        self.stage._consume_skipped_records()
        self.last_custom_metrics = {}
        self.last_skipped_records = []
        self._timer.reinit(sum(t.data_size_bytes() for t in tasks))
        # as in NeMo Curator, "items processed" are the input's items (rows of a DocumentBatch)
        with self._timer.time_process(sum(t.num_items for t in tasks)):
            outputs = self.stage.process_batch(tasks)
        if outputs is None:
            outputs = []
        elif not isinstance(outputs, list):
            outputs = [outputs]
        if any(isinstance(t, FailedTask) for t in outputs):
            raise TaskFailedError(f"stage '{self.stage.name}' returned FailedTask")
        outputs = [t for t in outputs if t is not None and not isinstance(t, NoneTask)]
        self.last_custom_metrics = self.stage._consume_custom_metrics()
        self.last_skipped_records = self.stage._consume_skipped_records()
        stats = self._timer.log_stats(self.last_custom_metrics)
        self.last_process_time = stats.process_time
        for task in outputs:
            task.add_stage_perf(stats)
        self.last_output_counts = self.stage._consume_output_counts()
        assign_missing_task_ids(tasks, outputs, self.last_output_counts)
        return outputs

    def setup_on_node(self, node_info: NodeInfo | None = None, worker_metadata: WorkerMetadata | None = None) -> None:
        """Delegate the once-per-node set-up to the stage."""
        self.stage.setup_on_node(node_info, worker_metadata)

    def setup(self, worker_metadata: WorkerMetadata | None = None) -> None:
        """Delegate the once-per-worker set-up to the stage."""
        self.stage.setup(worker_metadata)

    def teardown(self) -> None:
        """Delegate the worker's tear-down to the stage."""
        self.stage.teardown()


def assign_missing_task_ids(inputs: list[Task], outputs: list[Task], counts: list[int] | None) -> None:
    """Give outputs made without a `task_id` one derived from their parent: `"<parent>_<n>"`.

    The parent is found from the per-input output counts when the stage reported them (else
    outputs are matched to inputs one to one, or all attributed to the first input). Ids are
    deterministic: the same inputs give the same ids.
    """
    if all(t.task_id for t in outputs):
        return
    parents: list[str] = []
    if counts is not None and len(counts) == len(inputs) and sum(counts) == len(outputs):
        for task, count in zip(inputs, counts, strict=True):
            parents.extend([task.task_id] * count)
    elif len(inputs) == len(outputs):
        parents = [t.task_id for t in inputs]
    else:
        parents = [inputs[0].task_id if inputs else "r"] * len(outputs)
    seen: dict[str, int] = {}
    for task, parent in zip(outputs, parents, strict=True):
        position = seen.get(parent, 0)
        seen[parent] = position + 1
        if not task.task_id:
            task.task_id = f"{parent}_{position}"


def effective_batch_size(stage: ProcessingStage) -> int:
    """The stage's batch size, 1 when it declares none."""
    size = stage.batch_size
    return 1 if size is None else int(size)


def iter_batches(tasks: list[Task], size: int) -> Iterator[list[Task]]:
    """Consecutive slices of `tasks` of at most `size`."""
    for start in range(0, len(tasks), max(1, size)):
        yield tasks[start : start + size]


def starting_tasks(initial_tasks: list[Task] | None) -> list[Task]:
    """The tasks a run starts from: the given ones, or the empty start token."""
    if initial_tasks is None:  # a fresh start token per run, so no run sees another's perf stats
        return [_EmptyTask(task_id=EmptyTask.task_id, dataset_name=EmptyTask.dataset_name, data=None)]
    tasks = list(initial_tasks)
    for position, task in enumerate(tasks):
        if not task.task_id:  # made without one (NeMo Curator style): its position in the list
            task.task_id = str(position)
    return tasks


def stage_error(stage: ProcessingStage, tasks: list[Task], error: BaseException) -> StageExecutionError:
    """A `StageExecutionError` naming the stage, the batch's tasks and files, with the traceback."""
    return TaskFailure.from_exception(stage.name, tasks, error).to_error()


class BaseExecutor(ABC):
    """Runs a list of (already built) stages over initial tasks."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.config: dict[str, Any] = dict(config or {})

    @abstractmethod
    def execute(self, stages: list[ProcessingStage], initial_tasks: list[Task] | None = None) -> list[Task]:
        """Run the stages in order and return the final stage's output tasks."""

    def execute_with_checkpoint(
        self, stages: list[ProcessingStage], initial_tasks: list[Task] | None, checkpoint_path: str
    ) -> list[Task]:
        """`execute`, recording finished source partitions in `checkpoint_path` and skipping those
        already recorded there (`Pipeline.run(checkpoint_path=...)`).

        Executors that cannot resume raise `PipelineConfigError`; the actor-pool executor can.
        """
        raise PipelineConfigError(
            f"{type(self).__name__} cannot resume from a checkpoint (checkpoint_path={checkpoint_path!r}); "
            "use RayActorPoolExecutor"
        )
