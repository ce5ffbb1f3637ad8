"""Per-stage indexes over the cluster's nodes, so that the pool's choices cost O(log nodes), not O(nodes).

The actor pool asks three questions per stage, several times per event:

- where its next actor goes (`best_node`): the node with the fewest actors of the stage per CPU,
  then the fewest actors, then the most free CPUs, then the lowest id, among the nodes with room
  for one more actor of the stage (and, when asked, a CPU slot not yet claimed by actors still
  starting);
- which idle actor takes its next batch (`idle_actor`): on the node with the most free CPUs among
  those holding idle actors of the stage (ties: the oldest idle actor), the oldest one;
- how many idle actors could take a batch now (`idle_with_slot`).

The pool reports every node whose state changed (`touch`); before answering a question about a
stage, the index recomputes that stage's entries for the nodes touched since. Placement
candidates and nodes with idle actors are `KeyedMinHeap`s keyed as the choices above; idle
actors are also counted per value of free CPUs (nodes hold few distinct values: with whole-CPU
stages at most one per CPU of a node), so counting those with a slot free visits no node.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from raycurator.backends.ray_actor_pool.scheduling.capacity import ActorState, NodeCapacity, fits, worker_slots
from raycurator.backends.ray_actor_pool.scheduling.keyed_heap import KeyedMinHeap
from raycurator.backends.ray_actor_pool.scheduling.operators import StageSpec

EPS = 1e-9


@dataclass
class PoolState:
    """The actor pool's per-node bookkeeping the index reads (the pool owns and changes it)."""

    nodes: dict[str, NodeCapacity]
    claimed: dict[str, float]  # CPUs of the actors still starting, per node
    on_node: dict[str, int]  # actors per node
    stage_on_node: list[dict[str, int]]  # actors per node, per stage
    idle: list[dict[str, dict[str, ActorState]]]  # idle actors per node, per stage
    created: dict[str, int]  # creation order of each actor


def has_slot(free_cpus: float, cpus: float) -> bool:
    """Whether a node with `free_cpus` can start a call of a worker asking for `cpus`."""
    return (cpus <= EPS or free_cpus > EPS) and free_cpus + EPS >= cpus


def _take_all(dirty: set[str]) -> list[str]:
    """Empty `dirty`, returning what it held. `clear()` also shrinks the set's table: a set that
    once held every node and is then emptied by `pop()` keeps its large table, and each later
    `pop()` scans it (O(nodes) per call)."""
    if not dirty:
        return []
    taken = list(dirty)
    dirty.clear()
    return taken


class NodeIndex:
    """Placement candidates, idle actors' nodes and idle counts per stage, refreshed for touched nodes.

    Each view (per stage: placement anywhere, placement with a CPU slot, idle actors) keeps its own
    set of touched nodes and refreshes them only when it is asked: a stage whose queue is empty
    costs nothing per event, and several changes to a node between two questions cost one refresh.
    """

    def __init__(self, specs: list[StageSpec], state: PoolState, max_actors_per_node_factor: float) -> None:
        self.specs = specs
        self.state = state
        self.factor = max_actors_per_node_factor
        count = len(specs)
        self._anywhere: list[KeyedMinHeap[str]] = [KeyedMinHeap() for _ in range(count)]
        self._with_slot: list[KeyedMinHeap[str]] = [KeyedMinHeap() for _ in range(count)]
        self._idle_nodes: list[KeyedMinHeap[str]] = [KeyedMinHeap() for _ in range(count)]
        self._idle_by_free: list[dict[float, int]] = [{} for _ in range(count)]  # free CPUs -> idle actors
        self._idle_counted: list[dict[str, tuple[float, int]]] = [{} for _ in range(count)]
        # idle actors per node, per stage, as a heap by creation order (entries of actors no longer idle
        # are dropped when they reach the top): the oldest idle actor of a node without a scan
        self._idle_order: list[dict[str, list[tuple[int, str]]]] = [{} for _ in range(count)]
        self._static: dict[str, tuple[int, list[int]]] = {}  # node -> (actor cap, worker slots per stage)
        # nodes touched since each view last refreshed, per stage
        self._dirty_anywhere: list[set[str]] = [set() for _ in range(count)]
        self._dirty_slot: list[set[str]] = [set() for _ in range(count)]
        self._dirty_idle: list[set[str]] = [set() for _ in range(count)]
        self._all_dirty = [*self._dirty_anywhere, *self._dirty_slot, *self._dirty_idle]

    # -- upkeep ----------------------------------------------------------------------------------
    def touch(self, node_id: str) -> None:
        """Something on `node_id` changed (CPUs, GPUs, claims, actors, idle actors, or the node itself)."""
        for dirty in self._all_dirty:
            dirty.add(node_id)

    def idle_added(self, index: int, node_id: str, actor_id: str) -> None:
        """Actor `actor_id` of stage `index` on `node_id` became idle (the pool's `idle` holds it now)."""
        heap = self._idle_order[index].setdefault(node_id, [])
        heapq.heappush(heap, (self.state.created[actor_id], actor_id))
        self.touch(node_id)

    def node_removed(self, node_id: str) -> None:
        """`node_id` left the cluster (a node joining later under the same id is measured afresh)."""
        self._static.pop(node_id, None)
        self.touch(node_id)

    def slots_for(self, node: NodeCapacity, index: int) -> int:
        """Workers of stage `index` that `node` fits at once (0 when one does not fit)."""
        spec = self.specs[index]
        return worker_slots(node, spec.cpus, spec.gpus) if fits(node, spec.cpus, spec.gpus) else 0

    def _static_of(self, node: NodeCapacity) -> tuple[int, list[int]]:
        """(most actors the node may hold, workers of each stage it fits): fixed while the node stays."""
        static = self._static.get(node.node_id)
        if static is None:
            cap = int(self.factor * max(node.cpus, 1)) + len(self.specs)
            static = self._static[node.node_id] = (cap, [self.slots_for(node, i) for i in range(len(self.specs))])
        return static

    # -- refreshing a view -----------------------------------------------------------------------
    def _refresh_placement(self, index: int, need_free_slot: bool) -> None:
        dirty = (self._dirty_slot if need_free_slot else self._dirty_anywhere)[index]
        heap = (self._with_slot if need_free_slot else self._anywhere)[index]
        state, spec = self.state, self.specs[index]
        same_stage = state.stage_on_node[index]
        for node_id in _take_all(dirty):
            node = state.nodes.get(node_id)
            if node is None:
                heap.discard(node_id)
                continue
            cap, slots = self._static_of(node)
            on, same, free = state.on_node.get(node_id, 0), same_stage.get(node_id, 0), node.free_cpus
            room = slots[index] and node.free_gpus + EPS >= spec.gpus and on < cap and same < slots[index]
            if room and need_free_slot:  # a CPU free now that no actor still starting has claimed
                room = has_slot(free, spec.cpus) and free - state.claimed.get(node_id, 0.0) + EPS >= spec.cpus
            if room:
                heap.set(node_id, (same / max(node.cpus, EPS), on, -free, node_id))
            else:
                heap.discard(node_id)

    def _refresh_idle(self, index: int) -> None:
        dirty, heap, nodes = self._dirty_idle[index], self._idle_nodes[index], self.state.nodes
        for node_id in _take_all(dirty):
            node = nodes.get(node_id)
            oldest = self._oldest_idle(index, node_id) if node is not None else None
            if node is None or oldest is None:
                heap.discard(node_id)
                self._count_idle(index, node_id, None)
                if node is None:
                    self._idle_order[index].pop(node_id, None)
                continue
            free = node.free_cpus
            heap.set(node_id, (-free, oldest[0], node_id))
            self._count_idle(index, node_id, (free, len(self.state.idle[index][node_id])))

    def _oldest_idle(self, index: int, node_id: str) -> tuple[int, str] | None:
        """(creation order, id) of the oldest idle actor of stage `index` on `node_id` (None: no idle one)."""
        idle = self.state.idle[index].get(node_id)
        orders = self._idle_order[index]
        if not idle:
            orders.pop(node_id, None)
            return None
        heap = orders.get(node_id)
        if heap is None or len(heap) > 2 * len(idle) + 16:  # rebuilt when stale entries pile up
            heap = orders[node_id] = sorted((self.state.created[actor_id], actor_id) for actor_id in idle)
        while heap[0][1] not in idle:
            heapq.heappop(heap)
        return heap[0]

    def _count_idle(self, index: int, node_id: str, entry: tuple[float, int] | None) -> None:
        """Record that `node_id` holds `entry` = (free CPUs, idle actors) of stage `index` (None: none)."""
        counted, by_free = self._idle_counted[index], self._idle_by_free[index]
        if counted.get(node_id) == entry:
            return
        old = counted.pop(node_id, None)
        if old is not None:
            left = by_free[old[0]] - old[1]
            if left:
                by_free[old[0]] = left
            else:
                del by_free[old[0]]
        if entry is not None:
            counted[node_id] = entry
            by_free[entry[0]] = by_free.get(entry[0], 0) + entry[1]

    # -- questions -------------------------------------------------------------------------------
    def best_node(self, index: int, need_free_slot: bool) -> NodeCapacity | None:
        """Where the next actor of stage `index` goes (None: no node has room for it)."""
        self._refresh_placement(index, need_free_slot)
        node_id = (self._with_slot if need_free_slot else self._anywhere)[index].first()
        return None if node_id is None else self.state.nodes[node_id]

    def idle_actor(self, index: int) -> ActorState | None:
        """The idle actor of stage `index` to take a batch: on the node with the most free CPUs among
        those holding one (ties: the node with the oldest idle actor), the oldest there; None when
        that node has no CPU slot for the stage (then no node holding an idle actor of it has)."""
        self._refresh_idle(index)
        node_id = self._idle_nodes[index].first()
        if node_id is None or not has_slot(self.state.nodes[node_id].free_cpus, self.specs[index].cpus):
            return None
        oldest = self._oldest_idle(index, node_id)
        assert oldest is not None
        return self.state.idle[index][node_id][oldest[1]]

    def idle_with_slot(self, index: int) -> int:
        """Idle actors of stage `index` on nodes with a CPU slot free for it."""
        self._refresh_idle(index)
        cpus = self.specs[index].cpus
        return sum(count for free, count in self._idle_by_free[index].items() if has_slot(free, cpus))
