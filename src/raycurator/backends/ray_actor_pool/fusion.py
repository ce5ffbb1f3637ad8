"""The run's plan: which stages run together in one actor (fusion), and the adapter that runs a group.

Fusing saves an actor start-up per stage and a trip through the object store between stages.
Consecutive map stages that ask for the same resources, error policy and runtime environment
form one `PlannedStage`; its actors run a `FusedStageAdapter`, which runs the members in order
inside one call, each through its own `BaseStageAdapter` (so every member attaches its own perf
stats) and with its own batch size, and returns per-member figures (`MemberStats`) in the call's
summary, so run reports keep one row per original stage; an error names the member that raised.
Never fused: barrier and shuffle stages, the first stage of a run that starts from the empty
start token (it fans out the source partitions), and a stage after one that declares
`is_fanout_stage` (fan-out outputs are spread over the pool).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from raycurator.backends.base import BaseStageAdapter, WorkerMetadata, effective_batch_size, iter_batches
from raycurator.backends.ray_actor_pool.adapter import (
    MemberStageError,
    Processed,
    RayActorPoolStageAdapter,
    ShuffleStageAdapter,
)
from raycurator.backends.ray_actor_pool.scheduling.items import MemberStats, StageKind, add_metrics
from raycurator.stages.base import ProcessingStage, RayStageSpecKeys
from raycurator.stages.shuffle import ShuffleStage
from raycurator.tasks import Task


def stage_kind(stage: ProcessingStage) -> StageKind:
    """How the stage takes its inputs (read once, when the plan is made)."""
    if isinstance(stage, ShuffleStage):
        return StageKind.SHUFFLE
    return StageKind.BARRIER if stage.is_barrier else StageKind.MAP


@dataclass(frozen=True)
class PlannedStage:
    """One step of the run as executed: a stage, or a fused group of consecutive map stages."""

    members: tuple[ProcessingStage, ...]
    kind: StageKind

    @classmethod
    def of(cls, members: list[ProcessingStage]) -> PlannedStage:
        return cls(tuple(members), stage_kind(members[0]))

    @property
    def lead(self) -> ProcessingStage:
        """The first member: its resources, batch size and runtime environment are the group's."""
        return self.members[0]

    @property
    def fused(self) -> bool:
        return len(self.members) > 1

    @property
    def name(self) -> str:
        return "+".join(m.name for m in self.members)

    @property
    def actor_class_name(self) -> str:
        """What Ray shows for this step's actors: the stage class (classes, for a group)."""
        return "__".join(type(m).__name__ for m in self.members)[:200]

    @property
    def adapter_class(self) -> type[RayActorPoolStageAdapter]:
        if self.fused:
            return FusedStageAdapter
        return ShuffleStageAdapter if self.kind is StageKind.SHUFFLE else RayActorPoolStageAdapter

    @property
    def actor_argument(self) -> ProcessingStage | list[ProcessingStage]:
        """What the adapter class is constructed with inside the actor."""
        return list(self.members) if self.fused else self.lead

    def num_workers(self) -> int | None:
        caps = [c for c in (m.num_workers() for m in self.members) if c]
        return min(caps) if caps else None


class FusedStageAdapter(RayActorPoolStageAdapter):
    """Runs a fused group of stages back to back in one actor, reporting each member's figures."""

    def __init__(self, members: list[ProcessingStage]) -> None:
        self.member_adapters = [BaseStageAdapter(m) for m in members]
        super().__init__(members[0])

    def setup(self, worker_metadata: WorkerMetadata | None = None) -> None:
        for adapter in self.member_adapters:
            adapter.setup(worker_metadata)

    def teardown(self) -> None:
        for adapter in self.member_adapters:
            adapter.teardown()

    def process(self, tasks: list[Task]) -> Processed:
        """Run every member in turn; raises `MemberStageError` (with the figures so far) when one fails."""
        stats: list[MemberStats] = []
        current = list(tasks)
        for adapter in self.member_adapters:
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
                    raise MemberStageError(member.name, error, [*stats, record]) from error
                counts = adapter.last_output_counts
                record.output_counts.extend(
                    counts if counts and len(counts) == len(chunk) else _attributed(len(chunk), len(outputs))
                )
                record.process_time += adapter.last_process_time
                add_metrics(record.custom_metrics, adapter.last_custom_metrics)
                record.skipped_records.extend(adapter.last_skipped_records)
                produced.extend(outputs)
            record.tasks_out = len(produced)
            record.rows_out = sum(t.num_items for t in produced)
            record.filtered = sum(1 for c in record.output_counts if c == 0)
            stats.append(record)
            current = produced
        return Processed(current, stats[0].output_counts if stats else [], member_stats=stats)


def _attributed(inputs: int, outputs: int) -> list[int]:
    """Per-input output counts when a stage does not say: outputs attributed in order."""
    return [1 if i < outputs else 0 for i in range(inputs)]


def _fusable(stage: ProcessingStage) -> bool:
    return stage_kind(stage) is StageKind.MAP and not stage.ray_stage_spec().get(RayStageSpecKeys.IS_ACTOR_STAGE)


def _policy(stage: ProcessingStage) -> tuple[Any, ...]:
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


def plan_stages(
    stages: list[ProcessingStage], fuse: bool, starts_from_source: bool, stage_on_error: dict[str, str] | None = None
) -> list[PlannedStage]:
    """The steps of a run: `stages` one by one, or with compatible neighbours fused when `fuse`."""
    if not fuse:
        return [PlannedStage.of([stage]) for stage in stages]
    groups = plan_fusion(stages, starts_from_source, stage_on_error)
    return [PlannedStage.of([stages[i] for i in group]) for group in groups]
