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
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from raycurator.backends.failures import TaskFailure
from raycurator.backends.ray_actor_pool.scheduling.capacity import ActorState, NodeCapacity, fits, worker_slots
from raycurator.backends.ray_actor_pool.scheduling.items import Batch, BatchSummary, Item
from raycurator.backends.ray_actor_pool.scheduling.lineage import LineageTracker
from raycurator.backends.ray_actor_pool.scheduling.operators import (
    Operator,
    ShuffleOperator,
    StageSpec,
    make_operator,
)
from raycurator.backends.report import StageCounters
from raycurator.errors import InsufficientResourcesError


@dataclass
class SchedulerConfig:
    """Knobs of the scheduling policy."""

    mode: str = "streaming"  # or "stage_by_stage"
    queue_limit_items: int = 0  # 0: automatic (twice what the downstream pool can take)
    queue_limit_bytes: int = 1 << 30
    pipeline_depth: int = 2  # calls queued on one actor, for stages whose batches are short
    short_batch_s: float = 0.05
    max_actors_per_node_factor: float = 2.0


@dataclass
class ActorRequest:
    """Create an actor for stage `stage_index` on node `node_id`, known as `actor_id`."""

    actor_id: str
    stage_index: int
    node_id: str


class StreamingScheduler:
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

    def stage_actors(self, index: int) -> list[ActorState]:
        return [a for a in self.actors.values() if a.stage_index == index]

    # -- actors ---------------------------------------------------------------------------------
    def _max_actors(self, op: Operator) -> int:
        spec = op.spec
        total = sum(worker_slots(n, spec.cpus, spec.gpus) for n in self.nodes.values() if fits(n, spec.cpus, spec.gpus))
        if spec.max_workers:
            total = min(total, spec.max_workers)
        if self.config.mode == "stage_by_stage":
            total = min(total, max(1, self._batches_of_work(op)))
        return max(1, total)

    def _batches_of_work(self, op: Operator) -> int:
        if isinstance(op, ShuffleOperator):
            return max(op.pending_work, op.spec.num_partitions or 0)
        if op.spec.kind == "barrier":
            return 1
        return math.ceil(op.pending_work / max(1, op.spec.batch_size))

    def _node_for(self, op: Operator, need_free_slot: bool) -> NodeCapacity | None:
        spec = op.spec
        mine = self.stage_actors(op.index)
        per_node_cap = {
            n.node_id: int(self.config.max_actors_per_node_factor * max(n.cpus, 1)) + len(self.operators)
            for n in self.nodes.values()
        }
        candidates = []
        for node in self.nodes.values():
            if not fits(node, spec.cpus, spec.gpus) or node.free_gpus + 1e-9 < spec.gpus:
                continue
            if need_free_slot and node.free_cpus + 1e-9 < spec.cpus:
                continue
            on_node = [a for a in self.actors.values() if a.node_id == node.node_id]
            if len(on_node) >= per_node_cap[node.node_id]:
                continue
            same = sum(1 for a in mine if a.node_id == node.node_id)
            if same >= worker_slots(node, spec.cpus, spec.gpus):
                continue
            candidates.append((same / max(node.cpus, 1e-9), len(on_node), -node.free_cpus, node.node_id))
        if not candidates:
            return None
        return self.nodes[min(candidates)[3]]

    def _request(self, op: Operator, node: NodeCapacity) -> ActorRequest:
        actor_id = f"{op.index}-{op.spec.name}-{next(self._actor_ids)}"
        replacement = self._deaths[op.index] > 0
        if replacement:
            self._deaths[op.index] -= 1
        self.actors[actor_id] = ActorState(actor_id, op.index, node.node_id, replacement=replacement)
        node.gpus_held += op.spec.gpus
        for counters in self.members[op.index]:
            counters.actors_started += 1
            if replacement:
                counters.actors_restarted += 1
        return ActorRequest(actor_id, op.index, node.node_id)

    def plan_actors(self) -> list[ActorRequest]:
        """Actors to create now: a first actor for every active stage, more where work waits."""
        requests: list[ActorRequest] = []
        if self.fatal is not None:
            return requests
        # stages with work first, downstream first among them (draining frees memory and resources)
        order = sorted(self.operators, key=lambda o: (0, -o.index) if o.pending_work else (1, o.index))
        for op in order:
            if not self._active(op):
                continue
            if self.config.mode == "stage_by_stage":
                while len(self.stage_actors(op.index)) < self._max_actors(op):
                    node = self._node_for(op, need_free_slot=False)
                    if node is None:
                        break
                    requests.append(self._request(op, node))
            elif not self.stage_actors(op.index):
                node = self._node_for(op, need_free_slot=False)
                if node is not None:
                    requests.append(self._request(op, node))
                elif op.pending_work:
                    self._preempt_for(op)
        if self.config.mode == "streaming":
            requests.extend(self._plan_scale_up())
        return requests

    def _preempt_for(self, op: Operator) -> None:
        """Retire an idle actor of another stage whose resources (GPUs) would let `op` start one."""
        spec = op.spec
        candidates = []
        for actor in self.actors.values():
            if actor.stage_index == op.index or not actor.idle or actor.actor_id in self._retiring:
                continue
            node = self.nodes[actor.node_id]
            freed = self.specs[actor.stage_index].gpus
            if not fits(node, spec.cpus, spec.gpus) or node.free_gpus + freed + 1e-9 < spec.gpus:
                continue
            other = self.operators[actor.stage_index]
            busy_elsewhere = other.has_ready_batch() and not self._blocked(other)
            candidates.append((busy_elsewhere, -len(self.stage_actors(actor.stage_index)), actor.actor_id))
        if candidates:
            self._retiring.add(min(candidates)[2])

    def _usable_actor(self, op: Operator) -> bool:
        """Whether the stage has an actor starting, or an idle one on a node with a free CPU slot."""
        for actor in self.stage_actors(op.index):
            if not actor.ready:
                return True
            if actor.idle and self.nodes[actor.node_id].free_cpus + 1e-9 >= op.spec.cpus:
                return True
        return False

    def _plan_scale_up(self) -> list[ActorRequest]:
        requests = []
        wanting = [
            op
            for op in self.operators
            if self._active(op)
            and op.has_ready_batch()
            and not self._blocked(op)
            and not self._usable_actor(op)
            and len(self.stage_actors(op.index)) < self._max_actors(op)
        ]
        wanting.sort(key=lambda op: -op.pending_work)
        claimed: dict[str, float] = {}
        for op in wanting:
            node = self._node_for(op, need_free_slot=True)
            if node is None or claimed.get(node.node_id, 0.0) + op.spec.cpus > node.free_cpus + 1e-9:
                continue
            claimed[node.node_id] = claimed.get(node.node_id, 0.0) + op.spec.cpus
            requests.append(self._request(op, node))
        return requests

    def on_actor_ready(self, actor_id: str) -> None:
        """An actor finished its set-up and can take batches."""
        actor = self.actors[actor_id]
        actor.ready = True
        actor.ready_at = self.clock()

    def on_actor_start_failed(self, actor_id: str, error_type: str, message: str, traceback_text: str) -> None:
        """An actor could not start (its stage's `setup` raised): the run fails."""
        actor = self.actors.pop(actor_id)
        self.nodes[actor.node_id].gpus_held -= self.specs[actor.stage_index].gpus
        self.fatal = TaskFailure(
            stage=self.specs[actor.stage_index].name,
            task_id="(actor set-up)",
            error_type=error_type,
            message=f"worker set-up failed: {message}",
            traceback=traceback_text,
        )

    def on_actor_died(self, actor_id: str) -> list[Batch]:
        """An actor is gone: retry or fail its batches; returns the batches queued again."""
        actor = self.actors.pop(actor_id, None)
        if actor is None:
            return []
        self._release_actor(actor)
        self._deaths[actor.stage_index] += 1
        requeued = []
        for batch_id in actor.in_flight:
            batch = self.batches.pop(batch_id)
            op = self.operators[batch.stage_index]
            op.in_flight.pop(batch_id, None)
            batch.attempts += 1
            if batch.attempts <= op.spec.max_task_retries:
                for counters in self.members[batch.stage_index]:
                    counters.retries += 1
                op.retry(batch)
                requeued.append(batch)
            else:
                message = (
                    f"the worker running this batch died {batch.attempts} time(s); "
                    f"max_task_retries={op.spec.max_task_retries} reached"
                )
                self._fail_batch(batch, "ActorDiedError", message, "")
        actor.in_flight.clear()
        self._propagate_done()
        return requeued

    def _release_actor(self, actor: ActorState) -> None:
        node = self.nodes[actor.node_id]
        if actor.in_flight:
            node.cpus_in_use -= self.specs[actor.stage_index].cpus
        node.gpus_held -= self.specs[actor.stage_index].gpus
        if actor.ready:
            members = self.members[actor.stage_index]
            idle = max(0.0, self.clock() - actor.ready_at - actor.busy_s)
            for counters in members:  # fused stages share their actors' idle time
                counters.idle_s += idle
            if len(members) == 1:  # fused members account busy time per call
                members[0].busy_s += actor.busy_s

    def actors_to_stop(self) -> list[str]:
        """Actors whose stage is finished (tear them down and kill them)."""
        stopping = []
        for actor in list(self.actors.values()):
            retiring = actor.actor_id in self._retiring and actor.idle
            if retiring or (self.operators[actor.stage_index].finished() and not actor.in_flight):
                self._retiring.discard(actor.actor_id)
                self._release_actor(actor)
                del self.actors[actor.actor_id]
                stopping.append(actor.actor_id)
        return stopping

    def release_all(self) -> list[str]:
        """Every remaining actor, released for accounting (end of run, or after a failure)."""
        remaining = list(self.actors.values())
        self.actors.clear()
        for actor in remaining:
            self._release_actor(actor)
        return [a.actor_id for a in remaining]

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
            return
        for failure in summary.failures:
            self.skipped.append(failure)
        outputs = op.outputs_of(batch, refs, summary)
        self._trace(op, batch, outputs, failed_positions)
        if summary.member_stats is not None:
            self._record_members(op, summary.member_stats)
        elif op.counts_inputs(batch):
            counters.tasks_failed += len(failed_positions)
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
        self._route(op, outputs)
        self._propagate_done()

    def on_batch_crashed(self, batch_id: int, error_type: str, message: str, traceback_text: str) -> None:
        """A call failed outside the stage's code (e.g. its inputs were lost): fail its inputs."""
        batch = self.batches.get(batch_id)
        if batch is None:
            return
        self._finish_call(batch)
        batch.attempts += 1
        self._fail_batch(batch, error_type, message, traceback_text)
        self._propagate_done()

    def _record_members(self, op: Operator, stats: list[Any]) -> None:
        """Per-stage accounting of a fused call, from the figures each member reported."""
        for position, (counters, member) in enumerate(zip(self.members[op.index], stats, strict=False)):
            if position:
                counters.tasks_in += member.tasks_in
            attributed = sum(1 for count in member.output_counts if count > 0)
            counters.batches += 1
            counters.tasks_attributed += attributed
            counters.tasks_filtered += len(member.output_counts) - attributed
            counters.tasks_failed += member.failed
            counters.tasks_out += member.tasks_out
            counters.rows_in += member.rows_in
            counters.rows_out += member.rows_out
            counters.busy_s += member.process_time

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

    def _route(self, op: Operator, outputs: list[Item]) -> None:
        if not outputs:
            return
        if op.index + 1 < len(self.operators):
            downstream = self.operators[op.index + 1]
            downstream.add_inputs(outputs)
            counters = self.members[op.index + 1][0]
            counters.tasks_in += len(outputs)
            counters.max_queued = max(counters.max_queued, downstream.pending_work)
        else:
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

    # -- progress -----------------------------------------------------------------------------------
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
