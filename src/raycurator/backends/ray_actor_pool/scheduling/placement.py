"""Actor placement: how many actors each stage gets, and where (a part of the scheduler).

Every active stage gets a first actor (stages with work first, downstream first); in streaming
mode a stage whose actors are all busy while work waits gets one more where a CPU slot is free;
in stage-by-stage mode a stage's pool is sized up front. A stage that cannot place its first
actor because another stage's idle actor holds the resource (a GPU) has that actor retired.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from raycurator.backends.ray_actor_pool.scheduling.capacity import ActorState, NodeCapacity, fits, worker_slots
from raycurator.backends.ray_actor_pool.scheduling.operators import Operator, ShuffleOperator
from raycurator.backends.ray_actor_pool.scheduling.state import SchedulerState


@dataclass
class ActorRequest:
    """Create an actor for stage `stage_index` on node `node_id`, known as `actor_id`."""

    actor_id: str
    stage_index: int
    node_id: str


class ActorPlacement(SchedulerState):
    """Mixin of `StreamingScheduler`: the actor-planning decisions over the scheduler's state."""

    def stage_actors(self, index: int) -> list[ActorState]:
        return [a for a in self.actors.values() if a.stage_index == index]

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

    def _node_for(
        self, op: Operator, need_free_slot: bool, reserved: dict[str, float] | None = None
    ) -> NodeCapacity | None:
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
            if need_free_slot and node.free_cpus - (reserved or {}).get(node.node_id, 0.0) + 1e-9 < spec.cpus:
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
        self.actors_requested += 1
        node.gpus_held += op.spec.gpus
        for counters in self.members[op.index]:
            counters.actors_started += 1
            if replacement:
                counters.actors_restarted += 1
        return ActorRequest(actor_id, op.index, node.node_id)

    def plan_actors(self) -> list[ActorRequest]:
        """Actors to create now: a first actor for every active stage, replacements for dead ones, more
        where work waits."""
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
            # an actor that died is replaced while its stage has work left (the pool keeps its size)
            while (
                self.config.mode == "streaming"
                and self._deaths[op.index] > 0
                and (op.pending_work or op.in_flight)
                and len(self.stage_actors(op.index)) < self._max_actors(op)
            ):
                node = self._node_for(op, need_free_slot=False)
                if node is None:
                    break
                requests.append(self._request(op, node))
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

    def _spare_actors(self, op: Operator) -> int:
        """Actors of the stage that will take a batch soon: starting ones, and idle ones with a free slot."""
        spare = 0
        for actor in self.stage_actors(op.index):
            if not actor.ready or (actor.idle and self.nodes[actor.node_id].free_cpus + 1e-9 >= op.spec.cpus):
                spare += 1
        return spare

    def _ready_batches(self, op: Operator) -> int:
        if not op.has_ready_batch():
            return 0
        if op.spec.kind != "map":
            return max(1, len(op.retry_queue) + (1 if op.queue else 0))
        return len(op.retry_queue) + math.ceil(len(op.queue) / max(1, op.spec.batch_size))

    def _plan_scale_up(self) -> list[ActorRequest]:
        """More actors for stages with more ready batches than actors to take them, where CPU slots are free.

        Actors still starting already count against their node's free slots, so several can start
        at once without over-booking a node.
        """
        requests = []
        wanting = [
            op
            for op in self.operators
            if self._active(op)
            and not self._blocked(op)
            and self._ready_batches(op) > self._spare_actors(op)
            and len(self.stage_actors(op.index)) < self._max_actors(op)
        ]
        wanting.sort(key=lambda op: -op.pending_work)
        claimed: dict[str, float] = {}
        for actor in self.actors.values():
            if not actor.ready:
                claimed[actor.node_id] = claimed.get(actor.node_id, 0.0) + self.specs[actor.stage_index].cpus
        for op in wanting:
            wanted = self._ready_batches(op) - self._spare_actors(op)
            while wanted > 0 and len(self.stage_actors(op.index)) < self._max_actors(op):
                node = self._node_for(op, need_free_slot=True, reserved=claimed)
                if node is None:
                    break
                claimed[node.node_id] = claimed.get(node.node_id, 0.0) + op.spec.cpus
                requests.append(self._request(op, node))
                wanted -= 1
        return requests
