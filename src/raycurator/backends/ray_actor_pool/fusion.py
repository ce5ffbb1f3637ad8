"""Stage fusion: consecutive map stages that ask for the same resources run in one actor.

Fusing saves an actor start-up per stage and a trip through the object store between stages.
A `FusedStage` runs its members in order inside one `process_batch` call, each through its own
`BaseStageAdapter` (so every member still attaches its own perf stats) and each with its own
batch size; it reports per-member figures so run reports keep one row per original stage, and
an error names the member that raised. Never fused: barrier and shuffle stages, the first stage
of a run that starts from the empty start token (it fans out the source partitions), and a stage
after one that declares `is_fanout_stage` (fan-out outputs are spread over the pool).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from raycurator.backends.base import BaseStageAdapter, effective_batch_size, iter_batches
from raycurator.errors import SkippedRecord
from raycurator.stages.base import ProcessingStage, RayStageSpecKeys
from raycurator.tasks import Task


@dataclass
class MemberStats:
    """What one member stage did during one call of a fused stage."""

    stage_name: str
    tasks_in: int = 0
    tasks_out: int = 0
    filtered: int = 0
    failed: int = 0
    rows_in: int = 0
    rows_out: int = 0
    rows_failed: int = 0
    process_time: float = 0.0
    output_counts: list[int] = field(default_factory=list)
    custom_metrics: dict[str, float] = field(default_factory=dict)
    skipped_records: list[SkippedRecord] = field(default_factory=list)


class MemberStageError(Exception):
    """An exception raised by one member of a fused stage (keeps the member's name)."""

    def __init__(self, stage_name: str, error: BaseException) -> None:
        super().__init__(str(error))
        self.stage_name = stage_name
        self.error = error


class FusedStage(ProcessingStage[Task, Task]):
    """Several map stages run back to back in one worker."""

    _is_abstract_root = True  # an execution detail: not a user stage, not registered
    records_own_perf = True  # each member attaches its own StagePerfStats

    def __init__(self, members: list[ProcessingStage]) -> None:
        self.members = list(members)
        self._name = "+".join(m.name for m in members)
        self._resources = members[0].resources
        self._batch_size = members[0].batch_size
        self._runtime_env = members[0].runtime_env  # members share it (see _policy)
        self.actor_class_name = "__".join(type(m).__name__ for m in members)[:200]
        self.last_member_stats: list[MemberStats] = []

    def num_workers(self) -> int | None:
        caps = [c for c in (m.num_workers() for m in self.members) if c]
        return min(caps) if caps else None

    def setup(self, worker_metadata: Any = None) -> None:
        self._adapters = [BaseStageAdapter(m) for m in self.members]
        for adapter in self._adapters:
            adapter.setup(worker_metadata)

    def teardown(self) -> None:
        for adapter in getattr(self, "_adapters", []):
            adapter.teardown()

    def process(self, task: Task) -> Task | list[Task] | None:
        return self.process_batch([task])

    def process_batch(self, tasks: list[Task]) -> list[Task]:
        stats: list[MemberStats] = []
        current = list(tasks)
        for adapter in self._adapters:
            member = adapter.stage
            record = MemberStats(member.name, tasks_in=len(current), rows_in=sum(t.num_items for t in current))
            produced: list[Task] = []
            for chunk in iter_batches(current, effective_batch_size(member)) if current else []:
                try:
                    outputs = adapter.process_batch(chunk)
                except Exception as error:
                    # this member fails all it was given; earlier members' figures stand
                    record.failed, record.output_counts = record.tasks_in, []
                    record.rows_failed = record.rows_in
                    self.last_member_stats = [*stats, record]
                    raise MemberStageError(member.name, error) from error
                counts = adapter.last_output_counts
                record.output_counts.extend(
                    counts if counts and len(counts) == len(chunk) else _attributed(len(chunk), len(outputs))
                )
                record.process_time += adapter._timer.log_stats().process_time
                add_metrics(record.custom_metrics, adapter.last_custom_metrics)
                record.skipped_records.extend(adapter.last_skipped_records)
                produced.extend(outputs)
            record.tasks_out = len(produced)
            record.rows_out = sum(t.num_items for t in produced)
            record.filtered = sum(1 for c in record.output_counts if c == 0)
            stats.append(record)
            current = produced
        self.last_member_stats = stats
        self._output_counts = stats[0].output_counts if stats else []
        return current


def add_metrics(total: dict[str, float], metrics: dict[str, float] | None) -> dict[str, float]:
    """Add `metrics` into `total` name by name; returns `total`."""
    for name, value in (metrics or {}).items():
        total[name] = total.get(name, 0.0) + float(value)
    return total


def _attributed(inputs: int, outputs: int) -> list[int]:
    """Per-input output counts when a stage does not say: outputs attributed in order."""
    return [1 if i < outputs else 0 for i in range(inputs)]


def _fusable(stage: ProcessingStage) -> bool:
    spec = stage.ray_stage_spec()
    return not stage.is_barrier and not spec.get("is_shuffle") and not spec.get(RayStageSpecKeys.IS_ACTOR_STAGE)


def _policy(stage: ProcessingStage) -> tuple:
    spec = stage.ray_stage_spec()
    resources = stage.resources
    return (
        resources.cpus,
        resources.gpus,
        resources.gpu_memory_gb,
        resources.entire_gpu,
        spec.get(RayStageSpecKeys.ON_ERROR),
        spec.get(RayStageSpecKeys.MAX_TASK_RETRIES),
        repr(sorted((stage.runtime_env or {}).items())),  # one actor has one runtime environment
    )


def plan_fusion(
    stages: list[ProcessingStage], starts_from_source: bool, stage_on_error: dict[str, str] | None = None
) -> list[list[int]]:
    """Groups of stage indices to run together (each group consecutive, in order)."""
    overrides = stage_on_error or {}
    groups: list[list[int]] = []
    for index, stage in enumerate(stages):
        previous = stages[index - 1] if index else None
        joins = (
            previous is not None
            and groups
            and not (starts_from_source and index == 1)
            and _fusable(stage)
            and _fusable(previous)
            and not previous.ray_stage_spec().get(RayStageSpecKeys.IS_FANOUT_STAGE)
            and _policy(stage) == _policy(previous)
            and overrides.get(stage.name) == overrides.get(previous.name)
        )
        if joins:
            groups[-1].append(index)
        else:
            groups.append([index])
    return groups
