"""The streaming scheduler: a coordinator driven by events, deciding actor creations and calls.

A plain Python object (no Ray): the runtime reports events (actor ready/died, call done/crashed,
node lost/joined) and asks for decisions (`next_dispatches`, `plan_actors`, `actors_to_stop`).
It owns no bookkeeping of its own beyond the calls in flight; each part owns its state:

- `OperatorChain` (chain.py, operators.py): queues, batching, routing outputs, backpressure;
- `ActorPool` (pool.py): nodes, capacity, actors, placement, lifecycle;
- `Recovery` (recovery.py): lineage, partitions finished, recomputation of lost data;
- `RunStatistics` (statistics.py): the per-stage counters and the skipped failures;
- a `RunPolicy` (policy.py): what differs between streaming and stage-by-stage runs.

Priority: downstream stages first, which drains queues and keeps memory bounded. Retries: a batch
whose actor died goes back to the front of its stage's queue, up to the stage's
`max_task_retries`; then it fails like an error (raise, or skip to the ledger).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from raycurator.backends.failures import TaskFailure
from raycurator.backends.ray_actor_pool.scheduling.capacity import ActorState, NodeCapacity
from raycurator.backends.ray_actor_pool.scheduling.chain import OperatorChain
from raycurator.backends.ray_actor_pool.scheduling.items import Batch, BatchSummary, Item
from raycurator.backends.ray_actor_pool.scheduling.lineage import LineageTracker
from raycurator.backends.ray_actor_pool.scheduling.operators import Operator, StageSpec
from raycurator.backends.ray_actor_pool.scheduling.policy import POLICIES
from raycurator.backends.ray_actor_pool.scheduling.pool import ActorPool, ActorRequest
from raycurator.backends.ray_actor_pool.scheduling.recovery import LOST_DATA_ERRORS, Recovery
from raycurator.backends.ray_actor_pool.scheduling.scheduler_config import SchedulerConfig
from raycurator.backends.ray_actor_pool.scheduling.statistics import RunStatistics

__all__ = ["ActorRequest", "SchedulerConfig", "StreamingScheduler"]


class StreamingScheduler:
    """Keeps the state of a run (in its parts) and decides the next actor creations and calls."""

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
        """`lineage` (with `on_partition_finished`) tracks source partitions for checkpoints and
        recomputation; they are the run's initial items, or the first stage's outputs when
        `partitions_from_first_stage`."""
        self.config = config or SchedulerConfig()
        self.clock = clock
        self.specs = specs
        self.policy = POLICIES[self.config.mode]
        self.stats = RunStatistics(specs)
        self.chain = OperatorChain(specs, self.config)
        self.pool = ActorPool(nodes, specs, self.config, self.policy, self.stats, clock)
        alive = self.pool.nodes.__contains__
        self.recovery = Recovery(
            lineage, self.chain, self.stats, alive, partitions_from_first_stage, on_partition_finished
        )
        self.batches: dict[int, Batch] = {}  # calls in flight, by batch id
        self.fatal: TaskFailure | None = None

    # -- views of the parts' state (for the runtime, the executor and tests) ----------------------
    operators = property(lambda self: self.chain.operators)
    results = property(lambda self: self.chain.results)
    counters = property(lambda self: self.stats.counters)
    skipped = property(lambda self: self.stats.skipped)
    nodes = property(lambda self: self.pool.nodes)
    actors = property(lambda self: self.pool.actors)
    lineage = property(lambda self: self.recovery.lineage)
    actors_requested = property(lambda self: self.pool.requested)
    recomputed_partitions = property(lambda self: self.recovery.recomputed_partitions)
    results_discarded = property(lambda self: self.recovery.results_discarded)

    def stage_actors(self, index: int) -> list[ActorState]:
        return self.pool.stage_actors(index)

    def snapshot(self) -> list[dict[str, Any]]:
        """Per-stage figures for progress displays."""
        return self.stats.snapshot(self.chain.operators, self.pool.load)

    @property
    def done(self) -> bool:
        return self.fatal is not None or self.chain.finished

    # -- decisions --------------------------------------------------------------------------------
    def add_initial(self, items: list[Item]) -> None:
        """Hand the run's starting items to the first stage."""
        first = self.chain[0]
        items = self.recovery.admit_initial(items)
        first.add_inputs(items)
        self.stats.inputs_arrived(first, len(items), from_upstream=False)
        first.upstream_done = True
        self.chain.propagate_done()

    def _blocked(self, op: Operator) -> bool:
        downstream = self.chain.downstream(op)
        if not self.policy.applies_backpressure or downstream is None:
            return False
        return self.chain.blocked(op, len(self.pool.by_stage[downstream.index]))

    def next_dispatches(self) -> list[Batch]:
        """Batches to submit now, each assigned to an actor (`batch.actor_id`)."""
        dispatched: list[Batch] = []
        progress = self.fatal is None
        while progress:
            progress = False
            for op in reversed(self.chain.operators):
                if not self.policy.active(op) or not op.has_ready_batch() or self._blocked(op):
                    continue
                actor = self.pool.pick_actor(op)
                batch = op.next_batch() if actor is not None else None
                if actor is None or batch is None:
                    continue
                downstream = self.chain.downstream(op)
                op.choose_call(batch, downstream.spec if downstream is not None else None)
                self.pool.assign(batch, actor)
                batch.submitted_at = self.clock()
                op.in_flight[batch.batch_id] = self.batches[batch.batch_id] = batch
                self.stats.call_started(op.index, batch.submitted_at)
                dispatched.append(batch)
                progress = True
        return dispatched

    def plan_actors(self) -> list[ActorRequest]:
        """Actors to create now."""
        return [] if self.fatal is not None else self.pool.plan(self.chain, self._blocked)

    def actors_to_stop(self) -> list[str]:
        """Actors to tear down and kill now (their stage is finished, or they were retired)."""
        return self.pool.to_stop(self.chain)

    def release_all(self) -> list[str]:
        """Every remaining actor, released for accounting (end of run, or after a failure)."""
        return self.pool.release_all()

    # -- events: calls ------------------------------------------------------------------------------
    def _end_call(self, batch: Batch) -> Operator:
        op = self.chain[batch.stage_index]
        op.in_flight.pop(batch.batch_id, None)
        self.batches.pop(batch.batch_id, None)
        self.pool.call_ended(batch)
        return op

    def on_batch_done(self, batch_id: int, refs: list[Any], summary: BatchSummary, actor_id: str | None = None) -> None:
        """A call returned: account it, hand outputs downstream, handle the failures it reports.

        With `actor_id`, a late result from an attempt already resubmitted elsewhere is ignored.
        """
        batch = self.batches.get(batch_id)
        if batch is None or (actor_id is not None and batch.actor_id != actor_id):
            return
        op = self._end_call(batch)
        actor = self.pool.actors.get(batch.actor_id or "")
        if actor is not None:
            actor.busy_s += summary.process_time
        if batch.void:  # computed from discarded inputs: their partitions run again
            return
        op.learn(batch, summary)
        self.stats.call_returned(op, batch, self.clock())
        failed_positions = set(summary.failed_input_positions)
        for failure in summary.failures:
            failure.attempts = batch.attempts + 1
        if summary.failures and op.spec.on_error != "skip":
            self.fatal = summary.failures[0]
            failed = [batch.items[p] for p in sorted(failed_positions)] if failed_positions else batch.items
            self.stats.inputs_failed(op, batch, failed)
            return
        outputs = op.outputs_of(batch, refs, summary)
        for item in outputs:
            item.node_id = summary.node_id
        outputs = self.recovery.trace(op, batch, outputs, failed_positions)
        self.stats.call_finished(op, batch, summary, outputs, failed_positions)
        receiver = self.chain.route(op, outputs)
        if receiver is not None:
            self.stats.inputs_arrived(receiver, len(outputs))
        self.chain.propagate_done()

    def on_batch_crashed(self, batch_id: int, error_type: str, message: str, traceback_text: str) -> None:
        """A call failed outside the stage's code (e.g. its inputs were lost)."""
        batch = self.batches.get(batch_id)
        if batch is None:
            return
        self._end_call(batch)
        if batch.void:
            return
        if error_type in LOST_DATA_ERRORS and self.recovery.lineage is not None:
            verdict = self.recovery.recompute_inputs(batch, error_type, message)
            if verdict is None:
                return
            error_type, message = verdict
        batch.attempts += 1
        self._fail_batch(batch, error_type, message, traceback_text)
        self.chain.propagate_done()

    def _fail_batch(self, batch: Batch, error_type: str, message: str, traceback_text: str) -> None:
        op = self.chain[batch.stage_index]
        self.stats.inputs_failed(op, batch, batch.items)
        name, attempts = op.spec.name, batch.attempts
        if op.spec.on_error == "skip":  # one ledger entry per input
            self.stats.skip(
                [
                    TaskFailure(
                        name, [i.meta.task_id], list(i.meta.source_files), error_type, message, traceback_text, attempts
                    )
                    for i in batch.items
                ]
            )
            op.input_failed(batch)
            self.recovery.skipped(batch.items)
        else:
            self.fatal = TaskFailure(
                name, batch.task_ids, batch.source_files, error_type, message, traceback_text, attempts
            )

    # -- events: actors and nodes -----------------------------------------------------------------
    def on_actor_ready(self, actor_id: str) -> None:
        """An actor finished its set-up and can take batches."""
        self.pool.on_ready(actor_id)

    def on_actor_start_failed(self, actor_id: str, error_type: str, message: str, traceback_text: str) -> None:
        """An actor could not start (its stage's `setup` raised): the run fails."""
        actor = self.pool.forget(actor_id)
        stage = self.specs[actor.stage_index].name if actor is not None else "?"
        message = f"worker set-up failed: {message}"
        self.fatal = TaskFailure(stage, ["(actor set-up)"], [], error_type, message, traceback_text)

    def on_actor_died(self, actor_id: str) -> list[Batch]:
        """An actor is gone: retry or fail its batches; returns the batches queued again."""
        requeued = []
        for batch_id in self.pool.on_died(actor_id):
            batch = self.batches.pop(batch_id)
            op = self.chain[batch.stage_index]
            op.in_flight.pop(batch_id, None)
            if batch.void:  # its inputs were discarded already: nothing to retry
                continue
            batch.attempts += 1
            if batch.attempts <= op.spec.max_task_retries:
                self.stats.retried(op.index)
                op.retry(batch)
                requeued.append(batch)
            else:
                message = (
                    f"the worker running this batch died {batch.attempts} time(s); "
                    f"max_task_retries={op.spec.max_task_retries} reached"
                )
                self._fail_batch(batch, "ActorDiedError", message, "")
        self.chain.propagate_done()
        return requeued

    def on_node_added(self, node: NodeCapacity) -> None:
        """A node joined the cluster (after its stages' `setup_on_node` ran there): place actors on it."""
        self.pool.add_node(node)

    def on_node_lost(self, node_id: str) -> list[str]:
        """A node left: its actors are dead and the objects made there are presumed lost; returns its actors."""
        if node_id not in self.pool.nodes:
            return []
        gone = self.pool.remove_node(node_id)
        for actor_id in gone:
            self.on_actor_died(actor_id)
        self.recover_lost(lambda item: item.node_id == node_id, f"node {node_id[:12]} left the cluster")
        for op in self.chain:
            spec = op.spec
            if self.fatal is None and not op.finished() and not self.pool.hosts(spec):
                message = (
                    f"node {node_id[:12]} left the cluster and no remaining node can run this stage "
                    f"({spec.cpus:g} CPU, {spec.gpus:g} GPU per worker)"
                )
                self.fatal = TaskFailure(spec.name, ["(node lost)"], [], "InsufficientResourcesError", message)
        self.chain.propagate_done()
        return gone

    def recover_lost(self, lost: Callable[[Item], bool], reason: str) -> None:
        """Recompute every live item that `lost(item)` says is gone (the run fails when it cannot)."""
        why_not = self.recovery.recover_lost(lost, reason)
        if why_not is not None and self.fatal is None:
            self.fatal = TaskFailure(self.specs[0].name, ["(node lost)"], [], "DataLostError", why_not)
