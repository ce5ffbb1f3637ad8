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
import traceback
from collections.abc import Iterator
from typing import Any

import ray

from raycurator.backends.base import BaseStageAdapter, NodeInfo, WorkerMetadata
from raycurator.backends.failures import TaskFailure
from raycurator.backends.ray_actor_pool.fusion import MemberStageError, MemberStats, add_metrics
from raycurator.backends.ray_actor_pool.scheduling.items import BatchSummary, TaskMeta
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


#: The figures of a fused stage's members that add up over calls.
MEMBER_SUMS = ("tasks_in", "tasks_out", "filtered", "failed", "rows_in", "rows_out", "rows_failed", "process_time")


def _failure(stage: ProcessingStage, tasks: list[Task], error: BaseException) -> TaskFailure:
    files: list[str] = []
    for task in tasks:
        files.extend(f for f in task.source_files if f not in files)
    stage_name = stage.name
    if isinstance(error, MemberStageError):  # name the member of a fused stage that raised
        stage_name, error = error.stage_name, error.error
    return TaskFailure(
        stage=stage_name,
        task_id=", ".join(t.task_id for t in tasks),
        source_files=files,
        error_type=type(error).__name__,
        message=str(error),
        traceback="".join(traceback.format_exception(error)),
    )


class RayActorPoolStageAdapter(BaseStageAdapter):
    """Adapter for one stage inside one actor: set-up on construction, batches on request."""

    def __init__(self, stage: ProcessingStage) -> None:
        super().__init__(stage)
        self.node_info, self.worker_metadata = get_worker_metadata_and_node_id()
        self.stage.setup(self.worker_metadata)
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

    def _fetch(self, inputs: list[tuple[Any, int | None]]) -> list[Task]:
        refs = list({id(ref): ref for ref, _ in inputs}.values())
        values = dict(zip((id(r) for r in refs), ray.get(refs), strict=True))
        return [values[id(ref)] if index is None else values[id(ref)][index] for ref, index in inputs]

    def _summary(self, **kwargs: Any) -> BatchSummary:
        return BatchSummary(node_id=self.node_info.node_id, worker_id=self.worker_metadata.worker_id, **kwargs)

    def run(
        self, inputs: list[tuple[Any, int | None]], isolate_failures: bool = False
    ) -> tuple[list[Task], BatchSummary]:
        """Process the tasks behind `inputs`; return (output tasks, summary) as two objects.

        A stage error is reported in the summary, not raised. With `isolate_failures`, a
        failing batch is retried one task at a time so only the failing tasks are reported.
        """
        tasks = self._fetch(inputs)
        start = time.perf_counter()
        rows_in = sum(t.num_items for t in tasks)
        members: list[MemberStats] | None = None
        try:
            outputs = self.process_batch(tasks)
            counts = self.last_output_counts
            metrics = dict(self.last_custom_metrics)
            skipped = list(self.last_skipped_records)
            members = self._member_stats(None)
            failures: list[TaskFailure] = []
            failed: list[int] = []
        except Exception as error:
            if not isolate_failures or len(tasks) == 1:
                summary = self._summary(
                    failures=[_failure(self.stage, tasks, error)],
                    failed_input_positions=list(range(len(tasks))),
                    rows_in=rows_in,
                    process_time=time.perf_counter() - start,
                    member_stats=self._member_stats(None),
                )
                return [], summary
            outputs, counts, failures, failed, members, metrics, skipped = self._one_by_one(tasks)
        summary = self._summary(
            outputs=[task_meta(t) for t in outputs],
            output_counts=counts,
            rows_in=rows_in,
            rows_out=sum(t.num_items for t in outputs),
            process_time=time.perf_counter() - start,
            failures=failures,
            failed_input_positions=failed,
            member_stats=members,
            custom_metrics=metrics,
            skipped_records=skipped,
        )
        return outputs, summary

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

    def _member_stats(self, merged: list[MemberStats] | None) -> list[MemberStats] | None:
        """The fused stage's per-member figures of the last call, added into `merged`."""
        latest = getattr(self.stage, "last_member_stats", None)
        if latest is None:
            return merged
        self.stage.last_member_stats = []
        if merged is None:
            return list(latest)
        for position, member in enumerate(latest):
            if position >= len(merged):
                merged.append(member)
                continue
            total = merged[position]
            for name in MEMBER_SUMS:
                setattr(total, name, getattr(total, name) + getattr(member, name))
            total.output_counts.extend(member.output_counts)
            add_metrics(total.custom_metrics, member.custom_metrics)
            total.skipped_records.extend(member.skipped_records)
        return merged

    def _one_by_one(
        self, tasks: list[Task]
    ) -> tuple[
        list[Task], list[int], list[TaskFailure], list[int], list[MemberStats] | None, dict[str, float], list[Any]
    ]:
        outputs: list[Task] = []
        metrics: dict[str, float] = {}
        skipped: list[Any] = []
        counts: list[int] = []
        failures: list[TaskFailure] = []
        failed: list[int] = []
        members: list[MemberStats] | None = None
        if hasattr(self.stage, "last_member_stats"):
            self.stage.last_member_stats = []  # forget the aborted whole-batch attempt
        for position, task in enumerate(tasks):
            try:
                produced = self.process_batch([task])
            except Exception as error:
                failures.append(_failure(self.stage, [task], error))
                failed.append(position)
                members = self._member_stats(members)
                continue
            members = self._member_stats(members)
            add_metrics(metrics, self.last_custom_metrics)
            skipped.extend(self.last_skipped_records)
            outputs.extend(produced)
            counts.append(len(produced))
        return outputs, counts, failures, failed, members, metrics, skipped


class ShuffleStageAdapter(RayActorPoolStageAdapter):
    """Adds the two halves of a shuffle: split one input into partitions, merge one partition."""

    def shuffle_map(
        self, inputs: list[tuple[Any, int | None]], num_partitions: int, isolate_failures: bool = False
    ) -> tuple:
        """Return `num_partitions` Arrow tables (one object each) followed by the summary."""
        (task,) = self._fetch(inputs)
        start = time.perf_counter()
        try:
            pieces = self.stage.partition(task, num_partitions)  # type: ignore[attr-defined]
        except Exception as error:
            failure = _failure(self.stage, [task], error)
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
        tables = self._fetch(inputs)
        start = time.perf_counter()
        self.stage._consume_custom_metrics()
        self._timer.reinit(sum(t.nbytes for t in tables))
        try:
            with self._timer.time_process(sum(t.num_rows for t in tables)):
                merged = self.stage.merge(partition_index, tables, dataset_name)  # type: ignore[attr-defined]
        except Exception as error:
            failure = _failure(self.stage, [], error)
            failure.task_id = f"{self.stage.name}-partition-{partition_index:05d}"
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


def actor_class_for(stage: ProcessingStage, adapter_class: type[RayActorPoolStageAdapter]) -> type:
    """A subclass of `adapter_class` named after the stage's class (what Ray shows)."""
    name = getattr(stage, "actor_class_name", None) or type(stage).__name__
    return type(name, (adapter_class,), {"__module__": adapter_class.__module__, "__qualname__": name})
