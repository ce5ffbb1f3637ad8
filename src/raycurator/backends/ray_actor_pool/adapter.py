"""RayActorPoolStageAdapter: a stage running inside a Ray actor of the actor-pool backend.

On construction (inside the actor) it reads the Ray runtime context into `NodeInfo` and
`WorkerMetadata`, calls the stage's `setup` once, and settles the batch size (1, with a
warning, when the stage declares none). The executor creates one actor class per stage, a
subclass named after the stage's class, so Ray's state API and logs name the stage.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import ray

from raycurator.backends.base import BaseStageAdapter, NodeInfo, WorkerMetadata
from raycurator.backends.failures import TaskFailure
from raycurator.backends.ray_actor_pool.scheduling.items import BatchSummary, MemberStats, TaskMeta, add_metrics
from raycurator.errors import SkippedRecord
from raycurator.stages.base import ProcessingStage
from raycurator.tasks import Task

logger = logging.getLogger(__name__)


def get_worker_metadata_and_node_id() -> tuple[NodeInfo, WorkerMetadata]:
    """The node and worker this code runs on, from Ray's runtime context."""
    context = ray.get_runtime_context()
    return NodeInfo(node_id=context.get_node_id()), WorkerMetadata(worker_id=context.get_worker_id())


def task_meta(task: Task) -> TaskMeta:
    """The small facts about `task` that travel to the driver."""
    return TaskMeta(
        task_id=task.task_id,
        num_items=task.num_items,
        nbytes=task.data_size_bytes(),
        source_files=tuple(task.source_files),
        dataset_name=task.dataset_name,
    )


def fetch_tasks(inputs: list[tuple[Any, int | None]]) -> list[Task]:
    """The tasks behind (object reference, index or None) pairs, fetching each object once."""
    refs = list({id(ref): ref for ref, _ in inputs}.values())
    values = dict(zip((id(r) for r in refs), ray.get(refs), strict=True)) if refs else {}
    return [values[id(ref)] if index is None else values[id(ref)][index] for ref, index in inputs]


class MemberStageError(Exception):
    """One member of a fused group raised: names that member, keeps the figures of the aborted call."""

    def __init__(self, stage_name: str, error: BaseException, member_stats: list[MemberStats]) -> None:
        super().__init__(str(error))
        self.stage_name = stage_name
        self.error = error
        self.member_stats = member_stats


@dataclass
class Processed:
    """What processing one batch produced inside the actor."""

    outputs: list[Task]
    output_counts: list[int] | None = None
    custom_metrics: dict[str, float] = field(default_factory=dict)
    skipped_records: list[SkippedRecord] = field(default_factory=list)
    member_stats: list[MemberStats] | None = None  # a fused group: per member, in order

    def add(self, other: Processed) -> None:
        """Append the result of processing the next input (one-by-one retries)."""
        self.outputs.extend(other.outputs)
        self.output_counts = [*(self.output_counts or []), len(other.outputs)]
        add_metrics(self.custom_metrics, other.custom_metrics)
        self.skipped_records.extend(other.skipped_records)
        self.member_stats = merge_member_stats(self.member_stats, other.member_stats)


def merge_member_stats(total: list[MemberStats] | None, more: list[MemberStats] | None) -> list[MemberStats] | None:
    """Per-member figures of two calls added member by member."""
    if more is None:
        return total
    if total is None:
        return list(more)
    for position, member in enumerate(more):
        if position < len(total):
            total[position].add(member)
        else:
            total.append(member)
    return total


class RayActorPoolStageAdapter(BaseStageAdapter):
    """Adapter for one stage inside one actor: set-up on construction, batches on request."""

    def __init__(self, stage: ProcessingStage) -> None:
        super().__init__(stage)
        self.node_info, self.worker_metadata = get_worker_metadata_and_node_id()
        self.setup(self.worker_metadata)
        batch_size = stage.batch_size
        if batch_size is None:
            logger.warning("stage '%s' declares no batch_size; using 1", stage.name)
            batch_size = 1
        self._batch_size = int(batch_size)

    def get_batch_size(self) -> int:
        """The batch size the executor cuts this stage's inputs into."""
        return self._batch_size

    def setup_on_node(self) -> None:  # type: ignore[override]
        """Run the stage's once-per-node set-up with this actor's node and worker context."""
        super().setup_on_node(self.node_info, self.worker_metadata)

    # -- the actor protocol used by the executor ------------------------------------------------
    def ready(self) -> dict[str, Any]:
        """Answers once the actor is constructed (set-up done)."""
        return {
            "node_id": self.node_info.node_id,
            "worker_id": self.worker_metadata.worker_id,
            "pid": os.getpid(),
            "batch_size": self._batch_size,
        }

    def _summary(self, **kwargs: Any) -> BatchSummary:
        return BatchSummary(node_id=self.node_info.node_id, worker_id=self.worker_metadata.worker_id, **kwargs)

    def process(self, tasks: list[Task]) -> Processed:
        """Run the stage on `tasks` (raises what the stage raises)."""
        outputs = self.process_batch(tasks)
        return Processed(
            outputs, self.last_output_counts, dict(self.last_custom_metrics), list(self.last_skipped_records)
        )

    def _failure(self, tasks: list[Task], error: BaseException) -> TaskFailure:
        if isinstance(error, MemberStageError):  # name the member of a fused group that raised
            return TaskFailure.from_exception(error.stage_name, tasks, error.error)
        return TaskFailure.from_exception(self.stage.name, tasks, error)

    def run(
        self, inputs: list[tuple[Any, int | None]], isolate_failures: bool = False
    ) -> tuple[list[Task], BatchSummary]:
        """Process the tasks behind `inputs`; return (output tasks, summary) as two objects.

        A stage error is reported in the summary, not raised. With `isolate_failures`, a
        failing batch is retried one task at a time so only the failing tasks are reported.
        """
        tasks = fetch_tasks(inputs)
        start = time.perf_counter()
        rows_in = sum(t.num_items for t in tasks)
        failures: list[TaskFailure] = []
        failed: list[int] = []
        try:
            done = self.process(tasks)
        except Exception as error:
            if not isolate_failures or len(tasks) == 1:
                summary = self._summary(
                    failures=[self._failure(tasks, error)],
                    failed_input_positions=list(range(len(tasks))),
                    rows_in=rows_in,
                    process_time=time.perf_counter() - start,
                    member_stats=error.member_stats if isinstance(error, MemberStageError) else None,
                )
                return [], summary
            done = Processed([], [])
            for position, task in enumerate(tasks):
                try:
                    done.add(self.process([task]))
                except Exception as task_error:
                    failures.append(self._failure([task], task_error))
                    failed.append(position)
                    if isinstance(task_error, MemberStageError):
                        done.member_stats = merge_member_stats(done.member_stats, task_error.member_stats)
        summary = self._summary(
            outputs=[task_meta(t) for t in done.outputs],
            output_counts=done.output_counts,
            rows_in=rows_in,
            rows_out=sum(t.num_items for t in done.outputs),
            process_time=time.perf_counter() - start,
            failures=failures,
            failed_input_positions=failed,
            member_stats=done.member_stats,
            custom_metrics=done.custom_metrics,
            skipped_records=done.skipped_records,
        )
        return done.outputs, summary

    def run_chunked(
        self, inputs: list[tuple[Any, int | None]], chunk_size: int, isolate_failures: bool = False
    ) -> Iterator[Any]:
        """Like `run`, but yields the outputs in lists of `chunk_size` (one object each), then the summary.

        Used for calls that fan out: each downstream batch then fetches only its own chunk.
        """
        outputs, summary = self.run(inputs, isolate_failures)
        for start in range(0, len(outputs), chunk_size):
            yield outputs[start : start + chunk_size]
        yield summary


class ShuffleStageAdapter(RayActorPoolStageAdapter):
    """Adds the two halves of a shuffle: split one input into partitions, merge one partition."""

    def shuffle_map(
        self, inputs: list[tuple[Any, int | None]], num_partitions: int, isolate_failures: bool = False
    ) -> tuple:
        """Return `num_partitions` Arrow tables (one object each) followed by the summary."""
        (task,) = fetch_tasks(inputs)
        start = time.perf_counter()
        try:
            pieces = self.stage.partition(task, num_partitions)  # type: ignore[attr-defined]
        except Exception as error:
            failure = self._failure([task], error)
            summary = self._summary(
                failures=[failure],
                failed_input_positions=[0],
                rows_in=task.num_items,
                partition_rows=[0] * num_partitions,
            )
            return (*([None] * num_partitions), summary)
        summary = self._summary(
            rows_in=task.num_items,
            rows_out=sum(p.num_rows for p in pieces),
            partition_rows=[p.num_rows for p in pieces],
            process_time=time.perf_counter() - start,
            output_counts=[1],
        )
        return (*pieces, summary)

    def shuffle_reduce(
        self,
        inputs: list[tuple[Any, int | None]],
        partition_index: int,
        dataset_name: str = "",
        isolate_failures: bool = False,
    ) -> tuple[list[Task], BatchSummary]:
        """Merge every piece of partition `partition_index` into (at most) one output task."""
        tables = fetch_tasks(inputs)
        start = time.perf_counter()
        self.stage._consume_custom_metrics()
        self._timer.reinit(sum(t.nbytes for t in tables))
        try:
            with self._timer.time_process(sum(t.num_rows for t in tables)):
                merged = self.stage.merge(partition_index, tables, dataset_name)  # type: ignore[attr-defined]
        except Exception as error:
            failure = self._failure([], error)
            failure.task_ids = [f"{self.stage.name}-partition-{partition_index:05d}"]
            return [], self._summary(failures=[failure], failed_input_positions=[], process_time=0.0)
        outputs = [merged] if merged is not None else []
        metrics = self.stage._consume_custom_metrics()
        stats = self._timer.log_stats(metrics)
        for task in outputs:
            task.add_stage_perf(stats)
        return outputs, self._summary(
            outputs=[task_meta(t) for t in outputs],
            rows_in=sum(t.num_rows for t in tables),
            rows_out=sum(t.num_items for t in outputs),
            process_time=time.perf_counter() - start,
            custom_metrics=metrics,
        )


def actor_class_for(name: str, adapter_class: type[RayActorPoolStageAdapter]) -> type:
    """A subclass of `adapter_class` called `name` (what Ray's state API and logs show)."""
    return type(name, (adapter_class,), {"__module__": adapter_class.__module__, "__qualname__": name})
