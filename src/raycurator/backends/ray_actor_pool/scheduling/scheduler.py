"""The streaming scheduler: what to submit next, backpressure, retries, actor counts, counters.

A plain Python object driven by events (actor ready/died, batch succeeded/failed); the Ray
layer turns its decisions into actor calls. Decisions:

- Slots: a batch may start on an idle actor only while its node has CPUs free for it, so a
  cluster smaller than the sum of the stages' requests still runs every stage (actors ask Ray
  for no CPUs; the scheduler shares the CPUs among stages as work demands).
- Priority: downstream stages first, which drains queues and keeps memory bounded.
- Backpressure: a stage stops getting batches while its downstream queue is over its limit.
- Scaling: a stage with ready work and no usable actor gets one more actor where a CPU slot is
  free; every stage keeps at least one actor until it is finished.
- Retries: a batch whose actor died goes back to the front of its stage's queue, up to the
  stage's `max_task_retries`; then it fails like an error (raise, or skip to the ledger).
- Lost nodes and lost objects: see `recovery.py`.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from typing import Any

from raycurator.backends.failures import TaskFailure
from raycurator.backends.ray_actor_pool.scheduling.accounting import RunAccounting
from raycurator.backends.ray_actor_pool.scheduling.capacity import ActorState, NodeCapacity, fits
from raycurator.backends.ray_actor_pool.scheduling.items import Batch, BatchSummary, Item
from raycurator.backends.ray_actor_pool.scheduling.lifecycle import ActorLifecycle
from raycurator.backends.ray_actor_pool.scheduling.lineage import LineageTracker
from raycurator.backends.ray_actor_pool.scheduling.operators import (
    Operator,
    ShuffleOperator,
    StageSpec,
    make_operator,
)
from raycurator.backends.ray_actor_pool.scheduling.placement import ActorPlacement, ActorRequest
from raycurator.backends.ray_actor_pool.scheduling.recovery import LOST_DATA_ERRORS, NodeLossRecovery
from raycurator.backends.ray_actor_pool.scheduling.scheduler_config import SchedulerConfig
from raycurator.backends.report import StageCounters
from raycurator.errors import InsufficientResourcesError

__all__ = ["ActorRequest", "SchedulerConfig", "StreamingScheduler"]


class StreamingScheduler(ActorLifecycle, ActorPlacement, RunAccounting, NodeLossRecovery):
    """Keeps the state of a run and decides the next actor creations and batch submissions."""

    def __init__(
        self,
        specs: list[StageSpec],
        nodes: list[NodeCapacity],
        config: SchedulerConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
        lineage: LineageTracker | None = None,
        partitions_from_first_stage: bool = False,
        on_partition_finished: Callable[[str], None] | None = None,
    ) -> None:
        """`lineage` (with `on_partition_finished`) tracks source partitions for checkpoints; they are
        the run's initial items, or the first stage's outputs when `partitions_from_first_stage`."""
        self.lineage = lineage
        self.partitions_from_first_stage = partitions_from_first_stage
        self.on_partition_finished = on_partition_finished
        if not nodes:
            raise InsufficientResourcesError("no usable node in the cluster")
        self.config = config or SchedulerConfig()
        self.clock = clock
        self.specs = specs
        self.operators: list[Operator] = [make_operator(i, s) for i, s in enumerate(specs)]
        self.members = [[StageCounters(name) for name in s.members] for s in specs]
        self.counters = [c for group in self.members for c in group]  # one per original stage
        self.nodes = {n.node_id: n for n in nodes}
        self.actors: dict[str, ActorState] = {}
        self.batches: dict[int, Batch] = {}
        self.results: list[Item] = []
        self.skipped: list[TaskFailure] = []
        self.fatal: TaskFailure | None = None
        self._actor_ids = itertools.count(1)
        self._deaths = [0] * len(specs)
        self._avg_batch_s = [math.inf] * len(specs)
        self._avg_outputs = [0.0] * len(specs)  # outputs per full batch, for choosing chunked returns
        self._retiring: set[str] = set()
        self.actors_requested = 0  # actors of the whole run (fused stages share theirs)
        self._recomputes: dict[str, int] = {}
        self.recomputed_partitions = 0
        self.results_discarded = 0  # final outputs dropped because their partition ran again
        if lineage is not None:
            lineage.keep_finished_sources = self.config.keep_results
        for spec in specs:
            self._check_fits(spec)

    # -- set-up ---------------------------------------------------------------------------------
    def _check_fits(self, spec: StageSpec) -> None:
        if any(fits(n, spec.cpus, spec.gpus) for n in self.nodes.values()):
            return
        have = ", ".join(f"{n.node_id[:12]}: {n.cpus:g} CPU, {n.gpus:g} GPU" for n in self.nodes.values())
        raise InsufficientResourcesError(
            f"stage '{spec.name}' asks for {spec.cpus:g} CPU and {spec.gpus:g} GPU per worker, but no node "
            f"has that much (usable after reservations: {have}); lower the stage's Resources or add nodes"
        )

    def add_initial(self, items: list[Item]) -> None:
        """Hand the run's starting items to the first stage."""
        first = self.operators[0]
        if self.lineage is not None and not self.partitions_from_first_stage:
            items = self.lineage.admit(items)
        first.add_inputs(items)
        self.members[0][0].tasks_in += len(items)
        first.upstream_done = True
        self._propagate_done()

    # -- state ----------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self.fatal is not None or all(op.finished() for op in self.operators)

    def _active(self, op: Operator) -> bool:
        """Whether a stage may run now (stage-by-stage mode runs one stage at a time)."""
        if self.config.mode == "stage_by_stage":
            return op.upstream_done and not op.finished()
        return not op.finished()

    def _propagate_done(self) -> None:
        for previous, op in itertools.pairwise(self.operators):
            if previous.finished() and not op.upstream_done:
                op.upstream_done = True

    # -- batches ----------------------------------------------------------------------------------
    def _queue_limit(self, op: Operator) -> float:
        if op.spec.kind != "map":
            return math.inf  # barriers need every input
        if self.config.queue_limit_items:
            return self.config.queue_limit_items
        ready = max(1, sum(1 for a in self.stage_actors(op.index)))
        return max(4, 2 * op.spec.batch_size * ready * max(1, self.config.pipeline_depth))

    def _blocked(self, op: Operator) -> bool:
        """Backpressure: the downstream queue is full (streaming only)."""
        if self.config.mode != "streaming" or op.index + 1 >= len(self.operators):
            return False
        downstream = self.operators[op.index + 1]
        if downstream.spec.kind != "map":
            return False
        return (
            downstream.pending_work >= self._queue_limit(downstream)
            or downstream.queued_bytes >= self.config.queue_limit_bytes
        )

    def _pick_actor(self, op: Operator) -> ActorState | None:
        spec = op.spec
        best: ActorState | None = None
        for actor in self.stage_actors(op.index):
            if actor.idle and self.nodes[actor.node_id].free_cpus + 1e-9 >= spec.cpus:
                if best is None or self.nodes[actor.node_id].free_cpus > self.nodes[best.node_id].free_cpus:
                    best = actor
        if best is not None or self.config.pipeline_depth <= 1:
            return best
        if self._avg_batch_s[op.index] > self.config.short_batch_s:
            return None
        busy = [a for a in self.stage_actors(op.index) if a.ready and 0 < len(a.in_flight) < self.config.pipeline_depth]
        return min(busy, key=lambda a: len(a.in_flight), default=None)

    def next_dispatches(self) -> list[Batch]:
        """Batches to submit now, each assigned to an actor (`batch.actor_id`)."""
        dispatched: list[Batch] = []
        if self.fatal is not None:
            return dispatched
        progress = True
        while progress:
            progress = False
            for op in reversed(self.operators):
                if not self._active(op) or not op.has_ready_batch() or self._blocked(op):
                    continue
                actor = self._pick_actor(op)
                if actor is None:
                    continue
                batch = op.next_batch()
                if batch is None:
                    continue
                self._choose_returns(op, batch)
                self._assign(op, batch, actor)
                dispatched.append(batch)
                progress = True
        return dispatched

    def _choose_returns(self, op: Operator, batch: Batch) -> None:
        """Calls that fan out return their outputs in chunks sized to the downstream batch."""
        if batch.method not in ("run", "run_chunked") or op.index + 1 >= len(self.operators):
            return
        downstream = self.operators[op.index + 1].spec
        if downstream.kind != "map":
            return
        expected = self._avg_outputs[op.index] * len(batch.items) / max(1, op.spec.batch_size)
        if expected > downstream.batch_size:
            batch.method, batch.num_returns = "run_chunked", "streaming"
            batch.kwargs["chunk_size"] = downstream.batch_size
        elif batch.method == "run_chunked":  # a retried batch: plain call again
            batch.method, batch.num_returns = "run", 2
            batch.kwargs.pop("chunk_size", None)

    def _assign(self, op: Operator, batch: Batch, actor: ActorState) -> None:
        if not actor.in_flight:
            self.nodes[actor.node_id].cpus_in_use += op.spec.cpus
        actor.in_flight.append(batch.batch_id)
        batch.actor_id = actor.actor_id
        batch.submitted_at = self.clock()
        op.in_flight[batch.batch_id] = batch
        self.batches[batch.batch_id] = batch
        counters = self.counters[op.index]
        counters.first_start = batch.submitted_at if counters.first_start is None else counters.first_start

    def _finish_call(self, batch: Batch) -> Operator:
        op = self.operators[batch.stage_index]
        op.in_flight.pop(batch.batch_id, None)
        self.batches.pop(batch.batch_id, None)
        actor = self.actors.get(batch.actor_id or "")
        if actor is not None and batch.batch_id in actor.in_flight:
            actor.in_flight.remove(batch.batch_id)
            if not actor.in_flight:
                self.nodes[actor.node_id].cpus_in_use -= op.spec.cpus
        return op

    def on_batch_done(self, batch_id: int, refs: list[Any], summary: BatchSummary, actor_id: str | None = None) -> None:
        """A call returned: account it, hand outputs downstream, handle the failures it reports.

        With `actor_id`, a late result from an attempt that was already resubmitted elsewhere
        is ignored (the new attempt's result counts).
        """
        batch = self.batches.get(batch_id)
        if batch is None or (actor_id is not None and batch.actor_id != actor_id):
            return
        op = self._finish_call(batch)
        now = self.clock()
        actor = self.actors.get(batch.actor_id or "")
        if actor is not None:
            actor.busy_s += summary.process_time
        if batch.void:  # computed from discarded inputs: their partitions run again
            return
        if op.counts_inputs(batch) and batch.items:
            per_batch = len(summary.outputs) * max(1, op.spec.batch_size) / len(batch.items)
            last = self._avg_outputs[op.index]
            self._avg_outputs[op.index] = per_batch if last == 0 else 0.7 * last + 0.3 * per_batch
        previous = self._avg_batch_s[op.index]
        self._avg_batch_s[op.index] = (
            summary.process_time if previous == math.inf else (0.8 * previous + 0.2 * summary.process_time)
        )
        for member in self.members[op.index]:
            member.mark_active(batch.submitted_at, now)
        counters = self.members[op.index][0]
        failed_positions = set(summary.failed_input_positions)
        for failure in summary.failures:
            failure.attempts = batch.attempts + 1
        if summary.failures and op.spec.on_error != "skip":
            self.fatal = summary.failures[0]
            if op.counts_inputs(batch):
                counters.tasks_failed += len(failed_positions) or len(batch.items)
                failed_items = [batch.items[p] for p in failed_positions] if failed_positions else batch.items
                counters.rows_failed += sum(item.meta.num_items for item in failed_items)
            return
        for failure in summary.failures:
            self.skipped.append(failure)
        outputs = op.outputs_of(batch, refs, summary)
        for item in outputs:
            item.node_id = summary.node_id
        self._trace(op, batch, outputs, failed_positions)
        if summary.member_stats is not None:
            self._record_members(op, summary.member_stats, batch.task_ids)
        elif op.counts_inputs(batch):
            counters.tasks_failed += len(failed_positions)
            counters.rows_failed += sum(batch.items[p].meta.num_items for p in failed_positions)
            counters.record_batch(
                len(batch.items) - len(failed_positions),
                len(outputs),
                summary.output_counts,
                summary.rows_in,
                summary.rows_out if outputs or batch.method != "shuffle_map" else 0,
            )
            if batch.method == "shuffle_map":
                counters.tasks_out -= len(outputs)
        else:
            counters.tasks_out += len(outputs)
            counters.rows_out += summary.rows_out
        if summary.member_stats is None:
            counters.add_custom_metrics(summary.custom_metrics)
            self._record_skipped(op.spec.name, batch.task_ids, summary.skipped_records)
        self._route(op, outputs)
        self._propagate_done()

    def on_batch_crashed(self, batch_id: int, error_type: str, message: str, traceback_text: str) -> None:
        """A call failed outside the stage's code (e.g. its inputs were lost): fail its inputs."""
        batch = self.batches.get(batch_id)
        if batch is None:
            return
        if batch.void:
            self._finish_call(batch)
            return
        if error_type in LOST_DATA_ERRORS and self.lineage is not None:
            self.on_inputs_lost(batch_id, error_type, message, traceback_text)
            return
        self._finish_call(batch)
        batch.attempts += 1
        self._fail_batch(batch, error_type, message, traceback_text)
        self._propagate_done()

    def _route(self, op: Operator, outputs: list[Item]) -> None:
        if not outputs:
            return
        if op.index + 1 < len(self.operators):
            downstream = self.operators[op.index + 1]
            downstream.add_inputs(outputs)
            counters = self.members[op.index + 1][0]
            counters.tasks_in += len(outputs)
            counters.max_queued = max(counters.max_queued, downstream.pending_work)
        elif self.config.keep_results:
            self.results.extend(outputs)

    def _fail_batch(self, batch: Batch, error_type: str, message: str, traceback_text: str) -> None:
        op = self.operators[batch.stage_index]
        failures = [
            TaskFailure(
                stage=op.spec.name,
                task_id=item.meta.task_id,
                source_files=list(item.meta.source_files),
                error_type=error_type,
                message=message,
                traceback=traceback_text,
                attempts=batch.attempts,
            )
            for item in batch.items
        ]
        if op.counts_inputs(batch):
            self.members[op.index][0].tasks_failed += len(batch.items)
            self.members[op.index][0].rows_failed += sum(item.meta.num_items for item in batch.items)
        if op.spec.on_error == "skip":
            self.skipped.extend(failures)
            if isinstance(op, ShuffleOperator) and batch.method == "shuffle_map":
                op.map_failed()
            if self.lineage is not None:
                self.lineage.failed(batch.items)
                self.lineage.consumed(batch.items)
                self._settle()
        else:
            self.fatal = failures[0] if failures else TaskFailure(op.spec.name, "(none)", [], error_type, message)
            if failures:
                self.fatal.task_id = ", ".join(batch.task_ids)
                self.fatal.source_files = batch.source_files
