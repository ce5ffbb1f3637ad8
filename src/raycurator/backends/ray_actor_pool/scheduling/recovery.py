"""Surviving a lost node: its actors' batches are retried elsewhere, and data that lived only in
its object store is computed again from the source partitions it descends from.

Every item carries the source partitions it descends from (`Item.origins`) and the node where its
object was made. When a node leaves, or a call reports that an input object is gone, the affected
partitions are closed over everything they share a batch with, every live item of them is
discarded (queued inputs, calls in flight, collected results) and their source items enter the
pipeline again. A stage that needs all of its inputs at once (a barrier, a shuffle) and already
took in data of those partitions starts over, so every partition it took in runs again with them.
The run fails with a `DataLostError` when a source is gone too, or a partition was recomputed
`MAX_RECOMPUTES` times.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from raycurator.backends.failures import TaskFailure
from raycurator.backends.ray_actor_pool.scheduling.capacity import NodeCapacity, fits
from raycurator.backends.ray_actor_pool.scheduling.items import Batch, Item
from raycurator.backends.ray_actor_pool.scheduling.operators import Operator, ShuffleOperator
from raycurator.backends.ray_actor_pool.scheduling.state import SchedulerState

# errors (by type name) that mean an input object of a call is gone, not that the stage failed
LOST_DATA_ERRORS = frozenset(
    {
        "ObjectLostError",
        "ObjectFetchTimedOutError",
        "OwnerDiedError",
        "ObjectReconstructionFailedError",
        "ObjectReconstructionFailedMaxAttemptsExceededError",
        "ObjectReconstructionFailedLineageEvictedError",
        "ReferenceCountingAssertionError",
    }
)
MAX_RECOMPUTES = 3  # times one source partition may be run again before the run gives up


class NodeLossRecovery(SchedulerState):
    """Mixin of `StreamingScheduler`: node membership changes and recomputation of lost data."""

    # -- membership -------------------------------------------------------------------------------
    def on_node_added(self, node: NodeCapacity) -> None:
        """A node joined the cluster (after its stages' `setup_on_node` ran there): place actors on it."""
        self.nodes.setdefault(node.node_id, node)

    def on_node_lost(self, node_id: str) -> list[str]:
        """A node left: its actors are dead and the objects made there are presumed lost.

        Returns the ids of the actors that were on it.
        """
        if node_id not in self.nodes:
            return []
        gone = [a.actor_id for a in self.actors.values() if a.node_id == node_id]
        for actor_id in gone:
            self.on_actor_died(actor_id)
        del self.nodes[node_id]
        self.recover_lost(lambda item: item.node_id == node_id, f"node {node_id[:12]} left the cluster")
        for op in self.operators:
            spec = op.spec
            hostable = any(fits(n, spec.cpus, spec.gpus) for n in self.nodes.values())
            if self.fatal is None and not op.finished() and not hostable:
                self.fatal = TaskFailure(
                    stage=spec.name,
                    task_id="(node lost)",
                    error_type="InsufficientResourcesError",
                    message=f"node {node_id[:12]} left the cluster and no remaining node can run this stage "
                    f"({spec.cpus:g} CPU, {spec.gpus:g} GPU per worker)",
                )
        self._propagate_done()
        return gone

    # -- lost data ------------------------------------------------------------------------------
    def on_inputs_lost(self, batch_id: int, error_type: str, message: str, traceback_text: str = "") -> None:
        """A call could not read its inputs (their objects are gone): recompute them, or fail the
        batch (like a stage error: raise, or skip to the ledger) when that is impossible."""
        batch = self.batches.get(batch_id)
        if batch is None or batch.void:
            return
        self._finish_call(batch)
        seeds: set[str] = set().union(*(item.origins for item in batch.items))
        if not seeds:  # the run's start token: nothing to recompute it from
            batch.attempts += 1
            self._fail_batch(batch, error_type, message, traceback_text)
            self._propagate_done()
            return
        keys = self._affected(seeds)
        why_not = self._unrecoverable(keys)
        if why_not is not None:
            batch.attempts += 1
            self._fail_batch(batch, "DataLostError", _cannot(f"{error_type}: {message}", why_not), traceback_text)
            self._propagate_done()
            return
        batch.void = True
        self._discard_counted(self.operators[batch.stage_index], batch, batch.items)
        self._restart(keys)

    def recover_lost(self, lost: Callable[[Item], bool], reason: str) -> None:
        """Recompute every live item that `lost(item)` says is gone."""
        seeds: set[str] = set()
        for _, item in self._live_items():
            if lost(item):
                seeds.update(item.origins)
        if not seeds:
            return
        keys = self._affected(seeds)
        why_not = self._unrecoverable(keys)
        if why_not is None:
            self._restart(keys)
        elif self.fatal is None:
            self.fatal = TaskFailure(
                stage=self.operators[0].spec.name,
                task_id="(node lost)",
                error_type="DataLostError",
                message=_cannot(reason, why_not),
            )

    def _live_batches(self, op: Operator) -> list[Batch]:
        """Batches of `op` waiting for a retry or in flight (not those already discarded)."""
        return [b for b in [*op.retry_queue, *op.in_flight.values()] if not b.void]

    def _live_items(self) -> Iterator[tuple[Operator | None, Item]]:
        for op in self.operators:
            for item in op.queue:
                yield op, item
            for batch in self._live_batches(op):
                for item in batch.items:
                    yield op, item
            if isinstance(op, ShuffleOperator) and op.pieces is not None:
                for pieces in op.pieces:
                    for item in pieces:
                        yield op, item
        for item in self.results:
            yield None, item

    def _closure(self, seeds: set[str]) -> set[str]:
        """The partitions that share a batch or an object with `seeds`, transitively."""
        groups = [item.origins for _, item in self._live_items()]
        for op in self.operators:
            for batch in self._live_batches(op):
                groups.append(frozenset().union(*(item.origins for item in batch.items)))
        closed = set(seeds)
        grown = True
        while grown:
            grown = False
            for group in groups:
                if group & closed and not group <= closed:
                    closed |= group
                    grown = True
        return closed

    def _affected(self, seeds: set[str]) -> set[str]:
        """`seeds` closed over shared batches, and over everything a started all-inputs stage (barrier,
        shuffle) took in together with them: that stage runs again from the start."""
        keys = self._closure(seeds)
        grown = True
        while grown:
            grown = False
            for op in self.operators:
                if op.started and op.consumed_origins & keys and not op.consumed_origins <= keys:
                    keys = self._closure(keys | op.consumed_origins)
                    grown = True
        return keys

    def _unrecoverable(self, keys: set[str]) -> str | None:
        lineage = self.lineage
        if lineage is None:
            return "no lineage is kept for this run"
        missing = sorted(k for k in keys if k not in lineage.sources)
        if missing:
            return f"the source of partition(s) {missing[:3]} is no longer kept"
        lost_sources = sorted(
            k for k in keys for item in lineage.sources[k] if item.node_id and item.node_id not in self.nodes
        )
        if lost_sources:
            return f"the source of partition(s) {lost_sources[:3]} was itself on the lost node"
        tired = sorted(k for k in keys if self._recomputes.get(k, 0) >= MAX_RECOMPUTES)
        if tired:
            return f"partition(s) {tired[:3]} were already recomputed {MAX_RECOMPUTES} times"
        return None

    def _restart(self, keys: set[str]) -> None:
        """Discard every live item of these partitions and send their sources in again."""
        assert self.lineage is not None

        def touched(item: Item) -> bool:
            return bool(item.origins & keys)

        for op in self.operators:
            if op.started and op.consumed_origins & keys:
                op.restart()  # it took in data of these partitions: it starts over when they come again
            self._discard_counted(op, None, op.discard(touched))
            for in_flight in op.in_flight.values():
                if not in_flight.void and any(touched(i) for i in in_flight.items):
                    in_flight.void = True
                    self._discard_counted(op, in_flight, in_flight.items)
        kept = [item for item in self.results if not touched(item)]
        self.results_discarded += len(self.results) - len(kept)
        self.results[:] = kept
        for key in keys:
            self._recomputes[key] = self._recomputes.get(key, 0) + 1
        entry = 1 if self.partitions_from_first_stage and len(self.operators) > 1 else 0
        fresh = self.lineage.restart(sorted(keys))
        self.operators[entry].add_inputs(fresh)
        self.members[entry][0].tasks_in += len(fresh)
        for op in self.operators[entry + 1 :]:
            op.upstream_done = False
        self._propagate_done()
        self.recomputed_partitions += len(keys)

    def _discard_counted(self, op: Operator, batch: Batch | None, items: list[Item]) -> None:
        if items and (batch is None or op.counts_inputs(batch)):
            self.members[op.index][0].tasks_discarded += len(items)


def _cannot(reason: str, why_not: str) -> str:
    return (
        f"data was lost ({reason}) and cannot be recomputed: {why_not}; "
        "run again (with checkpoint_dir set, finished partitions are skipped)"
    )
