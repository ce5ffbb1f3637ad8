"""Run statistics: the one writer of the per-stage counters (and the list of skipped failures).

The other parts of the scheduler tell it what happened (inputs arrived, a call finished or
failed, an actor started or was released, inputs were discarded for a recomputation); it turns
that into `StageCounters`, one per original stage (the members of a fused group each keep
their own row, from the figures the fused adapter reports per member).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from raycurator.backends.failures import TaskFailure, skipped_record_entry
from raycurator.backends.ray_actor_pool.scheduling.items import Batch, BatchSummary, CallKind, Item, MemberStats
from raycurator.backends.ray_actor_pool.scheduling.operators import Operator, StageSpec
from raycurator.backends.report import StageCounters
from raycurator.errors import SkippedRecord


class RunStatistics:
    """Per-stage counters of a run (`counters`, in stage order) and the skipped failures."""

    def __init__(self, specs: list[StageSpec]) -> None:
        self.members = [[StageCounters(name) for name in s.members] for s in specs]  # per operator
        self.counters = [c for group in self.members for c in group]  # one per original stage
        self.skipped: list[TaskFailure] = []  # failures of stages that skip them (the failure ledger)

    # -- inputs and calls ------------------------------------------------------------------------
    def inputs_arrived(self, op: Operator, count: int, from_upstream: bool = True) -> None:
        """`count` inputs entered `op`'s queue (from the stage before it, or from the run's start)."""
        counters = self.members[op.index][0]
        counters.tasks_in += count
        if from_upstream:
            counters.max_queued = max(counters.max_queued, op.pending_work)

    def call_started(self, index: int, when: float) -> None:
        for counters in self.members[index]:
            counters.first_start = when if counters.first_start is None else counters.first_start

    def call_returned(self, op: Operator, batch: Batch, now: float) -> None:
        """A call of `op` returned: widen its stages' active windows."""
        for counters in self.members[op.index]:
            counters.mark_active(batch.submitted_at, now)

    def call_finished(
        self, op: Operator, batch: Batch, summary: BatchSummary, outputs: list[Item], failed_positions: set[int]
    ) -> None:
        """Account a call whose outputs go on (its skipped failures included)."""
        self.skipped.extend(summary.failures)
        if summary.member_stats is not None:
            self._fused_call(op, summary.member_stats, batch.task_ids)
            return
        counters = self.members[op.index][0]
        if op.counts_inputs(batch):
            counters.tasks_failed += len(failed_positions)
            counters.rows_failed += sum(batch.items[p].meta.num_items for p in failed_positions)
            shuffle_map = batch.call is CallKind.SHUFFLE_MAP
            counters.record_batch(
                len(batch.items) - len(failed_positions),
                len(outputs),
                summary.output_counts,
                summary.rows_in,
                summary.rows_out if outputs or not shuffle_map else 0,
            )
            if shuffle_map:
                counters.tasks_out -= len(outputs)
        else:
            counters.tasks_out += len(outputs)
            counters.rows_out += summary.rows_out
        counters.add_custom_metrics(summary.custom_metrics)
        self._skipped_records(op.spec.name, batch.task_ids, summary.skipped_records)

    def _fused_call(self, op: Operator, stats: list[MemberStats], task_ids: list[str]) -> None:
        """Per-stage accounting of a fused call, from the figures each member reported."""
        for position, (counters, member) in enumerate(zip(self.members[op.index], stats, strict=False)):
            if position:
                counters.tasks_in += member.tasks_in
            attributed = sum(1 for count in member.output_counts if count > 0)
            counters.batches += 1
            counters.tasks_attributed += attributed
            counters.tasks_filtered += len(member.output_counts) - attributed
            counters.tasks_failed += member.failed
            counters.rows_failed += member.rows_failed
            counters.tasks_out += member.tasks_out
            counters.rows_in += member.rows_in
            counters.rows_out += member.rows_out
            counters.busy_s += member.process_time
            counters.add_custom_metrics(member.custom_metrics)
            self._skipped_records(counters.stage_name, task_ids, member.skipped_records)

    def _skipped_records(self, stage_name: str, task_ids: list[str], records: list[SkippedRecord]) -> None:
        """Input records a stage skipped go to the failure ledger, one entry each."""
        self.skipped.extend(skipped_record_entry(stage_name, task_ids, record) for record in records)

    def inputs_failed(self, op: Operator, batch: Batch, items: list[Item]) -> None:
        """`items` of `batch` failed (the run fails, or they are skipped)."""
        if op.counts_inputs(batch):
            counters = self.members[op.index][0]
            counters.tasks_failed += len(items)
            counters.rows_failed += sum(item.meta.num_items for item in items)

    def skip(self, failures: list[TaskFailure]) -> None:
        self.skipped.extend(failures)

    def retried(self, index: int) -> None:
        for counters in self.members[index]:
            counters.retries += 1

    def discarded(self, op: Operator, batch: Batch | None, items: list[Item]) -> None:
        """Inputs dropped because their partitions run again."""
        if items and (batch is None or op.counts_inputs(batch)):
            self.members[op.index][0].tasks_discarded += len(items)

    # -- actors ----------------------------------------------------------------------------------
    def actor_started(self, index: int, replacement: bool) -> None:
        for counters in self.members[index]:
            counters.actors_started += 1
            counters.actors_restarted += int(replacement)

    def actor_released(self, index: int, idle_s: float, busy_s: float) -> None:
        members = self.members[index]
        for counters in members:  # fused stages share their actors' idle time
            counters.idle_s += idle_s
        if len(members) == 1:  # fused members account busy time per call
            members[0].busy_s += busy_s

    # -- progress --------------------------------------------------------------------------------
    def snapshot(self, operators: list[Operator], load: Callable[[int], tuple[int, int]]) -> list[dict[str, Any]]:
        """Per-stage figures for progress displays (members of a fused stage share its queue and actors)."""
        rows = []
        for op, members in zip(operators, self.members, strict=True):
            ready, busy = load(op.index)
            for position, counters in enumerate(members):
                queued = op.pending_work if position == 0 else 0
                rows.append(progress_row(counters, op.finished(), queued, len(op.in_flight), ready, busy))
        return rows


def progress_row(
    counters: StageCounters, finished: bool, queued: int = 0, in_flight: int = 0, actors: int = 0, busy_actors: int = 0
) -> dict[str, Any]:
    """One stage's line in progress displays (`backends.progress`)."""
    return {
        "stage": counters.stage_name,
        "tasks_in": counters.tasks_in,
        "tasks_done": counters.tasks_attributed + counters.tasks_filtered + counters.tasks_failed,
        "queued": queued,
        "in_flight": in_flight,
        "tasks_out": counters.tasks_out,
        "rows_in": counters.rows_in,
        "rows_out": counters.rows_out,
        "actors": actors,
        "busy_actors": busy_actors,
        "finished": finished,
        "failed": counters.tasks_failed,
    }
