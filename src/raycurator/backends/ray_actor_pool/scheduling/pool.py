"""The actor pool: the cluster's nodes, the actors on them, and where the next actor goes.

Capacity: a batch may start on an idle actor only while its node has CPUs free for it (actors
ask Ray for no CPUs; the pool shares each node's CPUs among stages as work demands), so a
cluster smaller than the sum of the stages' requests still runs every stage. GPUs are held by
an actor for its whole life.

Placement: every active stage gets its first actors (stages with work first, downstream first);
while the policy lets pools grow, a dead actor is replaced while its stage has work left, and a
stage with more ready batches than actors to take them gets more where a CPU slot is free. A
stage that cannot place its first actor because another stage's idle actor holds the resource
(a GPU) has that actor retired.

Cost: the choices of a node for an actor and of an idle actor for a batch come from per-stage
indexes over the nodes (`NodeIndex`, node_index.py) and the choice of a busy actor for a queued
call from a per-stage heap, so no decision scans every node or actor: a decision costs O(log n)
in the cluster's size (see docs/scale.md, "Driver at 1,000 nodes").
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

from raycurator.backends.ray_actor_pool.scheduling.capacity import ActorState, NodeCapacity, fits
from raycurator.backends.ray_actor_pool.scheduling.chain import OperatorChain
from raycurator.backends.ray_actor_pool.scheduling.items import Batch
from raycurator.backends.ray_actor_pool.scheduling.keyed_heap import KeyedMinHeap
from raycurator.backends.ray_actor_pool.scheduling.node_index import NodeIndex, PoolState
from raycurator.backends.ray_actor_pool.scheduling.operators import Operator, StageSpec
from raycurator.backends.ray_actor_pool.scheduling.policy import RunPolicy
from raycurator.backends.ray_actor_pool.scheduling.scheduler_config import SchedulerConfig
from raycurator.backends.ray_actor_pool.scheduling.statistics import RunStatistics
from raycurator.errors import InsufficientResourcesError


@dataclass
class ActorRequest:
    """Create an actor for stage `stage_index` on node `node_id`, known as `actor_id`."""

    actor_id: str
    stage_index: int
    node_id: str


class ActorPool:
    """Nodes and actors of a run; decides actor creations, stops, and which actor takes a batch."""

    def __init__(
        self,
        nodes: list[NodeCapacity],
        specs: list[StageSpec],
        config: SchedulerConfig,
        policy: RunPolicy,
        stats: RunStatistics,
        clock: Callable[[], float],
    ) -> None:
        if not nodes:
            raise InsufficientResourcesError("no usable node in the cluster")
        self.nodes = {n.node_id: n for n in nodes}
        self.specs = specs
        self.config = config
        self.policy = policy
        self.stats = stats
        self.clock = clock
        self.actors: dict[str, ActorState] = {}
        # indexes kept in step with `actors`, so that no decision scans every actor of the run
        self.by_stage: list[dict[str, ActorState]] = [{} for _ in specs]
        # ready actors with nothing in flight, per stage, per node
        self._idle: list[dict[str, dict[str, ActorState]]] = [{} for _ in specs]
        self._idle_count = [0] * len(specs)
        self._free: dict[str, NodeCapacity] = {n.node_id: n for n in nodes if n.free_cpus > 1e-9}  # CPUs free
        self._claimed: dict[str, float] = {}  # CPUs of the actors still starting, per node
        self._starting: list[dict[str, ActorState]] = [{} for _ in specs]  # not ready yet
        self._on_node: dict[str, int] = {}  # actors per node
        self._stage_on_node: list[dict[str, int]] = [{} for _ in specs]  # actors per node, per stage
        self._created: dict[str, int] = {}  # creation order (ties go to the older actor)
        self.requested = 0  # actors of the whole run (fused stages share theirs)
        self._ids = itertools.count(1)
        self._deaths = [0] * len(specs)  # dead actors of each stage not yet replaced
        self._retiring: set[str] = set()
        state = PoolState(self.nodes, self._claimed, self._on_node, self._stage_on_node, self._idle, self._created)
        self._index = NodeIndex(specs, state, config.max_actors_per_node_factor)
        # ready actors with calls queued but room for more (pipelined short calls), per stage
        self._pipelined: list[KeyedMinHeap[str]] = [KeyedMinHeap() for _ in specs]
        # workers of each stage the nodes fit, all nodes together
        self._slots = [sum(self._index.slots_for(n, i) for n in self.nodes.values()) for i in range(len(specs))]
        for node_id in self.nodes:
            self._index.touch(node_id)
        for spec in specs:
            self.check_fits(spec)

    # -- nodes -----------------------------------------------------------------------------------
    def hosts(self, spec: StageSpec) -> bool:
        """Whether some node could run one worker of `spec`."""
        return any(fits(n, spec.cpus, spec.gpus) for n in self.nodes.values())

    def check_fits(self, spec: StageSpec) -> None:
        if self.hosts(spec):
            return
        have = ", ".join(f"{n.node_id[:12]}: {n.cpus:g} CPU, {n.gpus:g} GPU" for n in self.nodes.values())
        raise InsufficientResourcesError(
            f"stage '{spec.name}' asks for {spec.cpus:g} CPU and {spec.gpus:g} GPU per worker, but no node "
            f"has that much (usable after reservations: {have}); lower the stage's Resources or add nodes"
        )

    def add_node(self, node: NodeCapacity) -> None:
        if node.node_id not in self.nodes:
            self.nodes[node.node_id] = node
            for index in range(len(self.specs)):
                self._slots[index] += self._index.slots_for(node, index)
        self._use_cpus(self.nodes[node.node_id], 0.0)

    def remove_node(self, node_id: str) -> list[str]:
        """Forget a node; returns the ids of its actors (still registered: report them dead)."""
        node = self.nodes.pop(node_id, None)
        if node is not None:
            for index in range(len(self.specs)):
                self._slots[index] -= self._index.slots_for(node, index)
        self._free.pop(node_id, None)
        self._index.node_removed(node_id)
        return [a.actor_id for a in self.actors.values() if a.node_id == node_id]

    # -- calls -----------------------------------------------------------------------------------
    def stage_actors(self, index: int) -> list[ActorState]:
        return list(self.by_stage[index].values())

    def load(self, index: int) -> tuple[int, int]:
        """(ready actors, busy actors) of stage `index`."""
        ready = len(self.by_stage[index]) - len(self._starting[index])
        return ready, ready - self._idle_count[index]

    def _use_cpus(self, node: NodeCapacity, cpus: float) -> None:
        """Book (or, negative, free) `cpus` on `node`, keeping the set of nodes with CPUs free."""
        node.cpus_in_use += cpus
        if node.free_cpus > 1e-9 and node.node_id in self.nodes:
            self._free[node.node_id] = node
        else:
            self._free.pop(node.node_id, None)
        self._index.touch(node.node_id)

    def _set_idle(self, actor: ActorState, idle: bool) -> None:
        per_node = self._idle[actor.stage_index]  # only nodes with idle actors of the stage have an entry
        if idle:
            on_node = per_node.setdefault(actor.node_id, {})
            if actor.actor_id not in on_node:
                on_node[actor.actor_id] = actor
                self._idle_count[actor.stage_index] += 1
                self._index.idle_added(actor.stage_index, actor.node_id, actor.actor_id)
            return
        on_node = per_node.get(actor.node_id)
        if on_node is not None and on_node.pop(actor.actor_id, None) is not None:
            self._idle_count[actor.stage_index] -= 1
            if not on_node:
                del per_node[actor.node_id]
            self._index.touch(actor.node_id)

    def _track_pipelined(self, actor: ActorState) -> None:
        """Keep the heap of busy actors with room for another queued call in step with `actor`."""
        queued = len(actor.in_flight)
        heap = self._pipelined[actor.stage_index]
        if actor.ready and 0 < queued < self.config.pipeline_depth and actor.actor_id in self.actors:
            heap.set(actor.actor_id, (queued, self._created[actor.actor_id]))
        else:
            heap.discard(actor.actor_id)

    def pick_actor(self, op: Operator) -> ActorState | None:
        """The actor to take `op`'s next batch: an idle one on the freest node (among equals, the
        oldest actor), else (short batches) the busy one with the fewest calls queued (the oldest
        among equals) while it has room in its pipeline."""
        actor = self._index.idle_actor(op.index)
        if actor is not None:
            return actor
        if self.config.pipeline_depth <= 1 or op.avg_batch_s > self.config.short_batch_s:
            return None
        actor_id = self._pipelined[op.index].first()
        return None if actor_id is None else self.actors[actor_id]

    def assign(self, batch: Batch, actor: ActorState) -> None:
        if not actor.in_flight:
            self._use_cpus(self.nodes[actor.node_id], self.specs[actor.stage_index].cpus)
            self._set_idle(actor, False)
        actor.in_flight.append(batch.batch_id)
        batch.actor_id = actor.actor_id
        self._track_pipelined(actor)

    def call_ended(self, batch: Batch) -> None:
        """`batch`'s call returned (or failed): its actor's CPU slot frees when nothing else is queued on it."""
        actor = self.actors.get(batch.actor_id or "")
        if actor is not None and batch.batch_id in actor.in_flight:
            actor.in_flight.remove(batch.batch_id)
            if not actor.in_flight:
                self._use_cpus(self.nodes[actor.node_id], -self.specs[actor.stage_index].cpus)
                self._set_idle(actor, True)
            self._track_pipelined(actor)

    # -- lifecycle -------------------------------------------------------------------------------
    def on_ready(self, actor_id: str) -> None:
        actor = self.actors[actor_id]
        actor.ready = True
        actor.ready_at = self.clock()
        self._stop_starting(actor)
        if not actor.in_flight:
            self._set_idle(actor, True)

    def forget(self, actor_id: str) -> ActorState | None:
        """Remove an actor (died, failed to start, stopped), freeing what it held; returns it."""
        actor = self.actors.pop(actor_id, None)
        if actor is None:
            return None
        index = actor.stage_index
        del self.by_stage[index][actor_id]
        self._set_idle(actor, False)
        self._stop_starting(actor)
        self._created.pop(actor_id, None)
        self._on_node[actor.node_id] -= 1
        self._stage_on_node[index][actor.node_id] -= 1
        self._retiring.discard(actor_id)
        self._pipelined[index].discard(actor_id)
        self._index.touch(actor.node_id)
        spec = self.specs[actor.stage_index]
        node = self.nodes.get(actor.node_id)
        if node is not None:
            if actor.in_flight:
                self._use_cpus(node, -spec.cpus)
            node.gpus_held -= spec.gpus
        if actor.ready:
            self.stats.actor_released(
                actor.stage_index, max(0.0, self.clock() - actor.ready_at - actor.busy_s), actor.busy_s
            )
        return actor

    def _stop_starting(self, actor: ActorState) -> None:
        if self._starting[actor.stage_index].pop(actor.actor_id, None) is not None:
            left = self._claimed.get(actor.node_id, 0.0) - self.specs[actor.stage_index].cpus
            if left > 1e-9:
                self._claimed[actor.node_id] = left
            else:
                self._claimed.pop(actor.node_id, None)
            self._index.touch(actor.node_id)

    def on_died(self, actor_id: str) -> list[int]:
        """An actor is gone; returns the ids of the batches it had in flight."""
        actor = self.forget(actor_id)
        if actor is None:
            return []
        self._deaths[actor.stage_index] += 1
        in_flight, actor.in_flight = list(actor.in_flight), []
        return in_flight

    def to_stop(self, chain: OperatorChain) -> list[str]:
        """Actors whose stage is finished (or no longer holds actors), and idle retired ones."""
        stopping = []
        for op in chain:
            if op.finished() or not self.policy.holds_actors(op):
                stopping.extend(a.actor_id for a in list(self.by_stage[op.index].values()) if not a.in_flight)
        for actor_id in list(self._retiring):
            actor = self.actors.get(actor_id)
            if actor is not None and actor.idle and actor_id not in stopping:
                stopping.append(actor_id)
        for actor_id in stopping:
            self.forget(actor_id)
        return stopping

    def release_all(self) -> list[str]:
        """Every remaining actor, released for accounting (end of run, or after a failure)."""
        remaining = list(self.actors)
        for actor_id in remaining:
            self.forget(actor_id)
        return remaining

    # -- placement -------------------------------------------------------------------------------
    def _limit(self, op: Operator) -> int:
        total = self._slots[op.index]
        if op.spec.max_workers:
            total = min(total, op.spec.max_workers)
        return max(1, self.policy.pool_limit(op, total))

    def _node_for(self, op: Operator, need_free_slot: bool) -> NodeCapacity | None:
        """The node for `op`'s next actor: spread (fewest actors of the stage per CPU, then fewest
        actors, then most free CPUs), within the per-node caps; with `need_free_slot`, only where a
        CPU is free that no starting actor has claimed."""
        return self._index.best_node(op.index, need_free_slot)

    def _request(self, op: Operator, node: NodeCapacity) -> ActorRequest:
        actor_id = f"{op.index}-{op.spec.name}-{next(self._ids)}"
        replacement = self._deaths[op.index] > 0
        if replacement:
            self._deaths[op.index] -= 1
        actor = ActorState(actor_id, op.index, node.node_id, replacement=replacement)
        self.actors[actor_id] = self.by_stage[op.index][actor_id] = self._starting[op.index][actor_id] = actor
        self._created[actor_id] = self.requested
        self._claimed[node.node_id] = self._claimed.get(node.node_id, 0.0) + op.spec.cpus
        self._on_node[node.node_id] = self._on_node.get(node.node_id, 0) + 1
        stage_on_node = self._stage_on_node[op.index]
        stage_on_node[node.node_id] = stage_on_node.get(node.node_id, 0) + 1
        self.requested += 1
        node.gpus_held += op.spec.gpus
        self._index.touch(node.node_id)
        self.stats.actor_started(op.index, replacement)
        return ActorRequest(actor_id, op.index, node.node_id)

    def plan(self, chain: OperatorChain, blocked: Callable[[Operator], bool]) -> list[ActorRequest]:
        """Actors to create now: first actors of active stages, replacements, more where work waits."""
        requests: list[ActorRequest] = []
        # stages with work first, downstream first among them (draining frees memory and resources)
        order = sorted(chain, key=lambda o: (0, -o.index) if o.pending_work else (1, o.index))
        for op in order:
            if not self.policy.active(op):
                continue
            wanted = self.policy.first_actors(self._limit(op))
            while len(self.by_stage[op.index]) < wanted:
                node = self._node_for(op, need_free_slot=False)
                if node is None:
                    if not self.by_stage[op.index] and op.pending_work and self.policy.grows_pools:
                        self._preempt_for(op, chain, blocked)
                    break
                requests.append(self._request(op, node))
            # an actor that died is replaced while its stage has work left (the pool keeps its size)
            while (
                self.policy.grows_pools
                and self._deaths[op.index] > 0
                and (op.pending_work or op.in_flight)
                and len(self.by_stage[op.index]) < self._limit(op)
            ):
                node = self._node_for(op, need_free_slot=False)
                if node is None:
                    break
                requests.append(self._request(op, node))
        if self.policy.grows_pools:
            requests.extend(self._scale_up(chain, blocked))
        return requests

    def _preempt_for(self, op: Operator, chain: OperatorChain, blocked: Callable[[Operator], bool]) -> None:
        """Retire an idle actor of another stage whose resources (GPUs) would let `op` start one."""
        spec = op.spec
        candidates = []
        for other in chain:  # only idle actors qualify: visit those, not every actor
            if other.index == op.index:
                continue
            freed = self.specs[other.index].gpus
            busy_elsewhere = other.has_ready_batch() and not blocked(other)
            for node_id, idle in self._idle[other.index].items():
                node = self.nodes.get(node_id)
                if node is None:
                    continue
                if not fits(node, spec.cpus, spec.gpus) or node.free_gpus + freed + 1e-9 < spec.gpus:
                    continue
                size = -len(self.by_stage[other.index])
                candidates.extend((busy_elsewhere, size, a) for a in idle if a not in self._retiring)
        if candidates:
            self._retiring.add(min(candidates)[2])

    def _spare(self, op: Operator) -> int:
        """Actors of the stage that will take a batch soon: starting ones, and idle ones with a free slot."""
        return len(self._starting[op.index]) + self._index.idle_with_slot(op.index)

    def _scale_up(self, chain: OperatorChain, blocked: Callable[[Operator], bool]) -> list[ActorRequest]:
        """More actors for stages with more ready batches than actors to take them, where CPU slots
        are free. Actors still starting count against their node's free slots."""
        requests = []
        wanting = [
            op
            for op in chain
            if self.policy.active(op)
            and not blocked(op)
            and op.ready_batches() > self._spare(op)
            and len(self.by_stage[op.index]) < self._limit(op)
        ]
        wanting.sort(key=lambda op: -op.pending_work)
        for op in wanting:
            wanted = op.ready_batches() - self._spare(op)
            while wanted > 0 and len(self.by_stage[op.index]) < self._limit(op):
                node = self._node_for(op, need_free_slot=True)  # claims of actors requested just now count
                if node is None:
                    break
                requests.append(self._request(op, node))
                wanted -= 1
        return requests
