"""Run accounting of the scheduler: per-stage counters of fused calls, lineage, progress rows."""

from __future__ import annotations

from typing import Any

from raycurator.backends.failures import skipped_record_entry
from raycurator.backends.ray_actor_pool.scheduling.items import Batch, Item
from raycurator.backends.ray_actor_pool.scheduling.operators import Operator
from raycurator.backends.ray_actor_pool.scheduling.state import SchedulerState
from raycurator.errors import SkippedRecord


class RunAccounting(SchedulerState):
    """Mixin of `StreamingScheduler`: counters, lineage bookkeeping and progress snapshots."""

    def _record_skipped(self, stage_name: str, task_ids: list[str], records: list[SkippedRecord]) -> None:
        """Input records a stage skipped go to the failure ledger, one entry each."""
        task_id = ", ".join(task_ids)
        self.skipped.extend(skipped_record_entry(stage_name, task_id, record) for record in records)

    def _record_members(self, op: Operator, stats: list[Any], batch_task_ids: list[str]) -> None:
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
            self._record_skipped(counters.stage_name, batch_task_ids, member.skipped_records)

    def _trace(self, op: Operator, batch: Batch, outputs: list[Item], failed_positions: set[int]) -> None:
        """Lineage bookkeeping of a finished call (outputs counted before inputs are released)."""
        created, op.created_internal = op.created_internal, 0
        lineage = self.lineage
        if lineage is None:
            return
        if self.partitions_from_first_stage and op.index == 0:
            outputs[:] = lineage.admit(outputs)
        else:
            origins = lineage.origins_of(batch.items)
            for item in outputs:
                item.origins = origins
            if op.index + 1 < len(self.operators):
                lineage.produced(origins, len(outputs))
            lineage.produced(origins, created)
        lineage.failed(batch.items[p] for p in failed_positions)
        lineage.consumed(batch.items)
        self._settle()

    def _settle(self) -> None:
        if self.lineage is None:
            return
        for key in self.lineage.settle():
            if self.on_partition_finished is not None:
                self.on_partition_finished(key)

    def snapshot(self) -> list[dict[str, Any]]:
        """Per-stage figures for progress displays (members of a fused stage share its queue and actors)."""
        rows = []
        for op, members in zip(self.operators, self.members, strict=True):
            actors = self.stage_actors(op.index)
            for position, counters in enumerate(members):
                rows.append(
                    {
                        "stage": counters.stage_name,
                        "tasks_in": counters.tasks_in,
                        "tasks_done": counters.tasks_attributed + counters.tasks_filtered + counters.tasks_failed,
                        "queued": op.pending_work if position == 0 else 0,
                        "in_flight": len(op.in_flight),
                        "tasks_out": counters.tasks_out,
                        "rows_in": counters.rows_in,
                        "rows_out": counters.rows_out,
                        "actors": sum(1 for a in actors if a.ready),
                        "busy_actors": sum(1 for a in actors if a.in_flight),
                        "finished": op.finished(),
                        "failed": counters.tasks_failed,
                    }
                )
        return rows
