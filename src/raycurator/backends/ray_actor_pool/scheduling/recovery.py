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

`Recovery` also does the lineage bookkeeping of every finished call (which partitions its
outputs descend from, which partitions finished: checkpoints record those).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from raycurator.backends.ray_actor_pool.scheduling.chain import OperatorChain
from raycurator.backends.ray_actor_pool.scheduling.items import Batch, Item
from raycurator.backends.ray_actor_pool.scheduling.lineage import LineageTracker
from raycurator.backends.ray_actor_pool.scheduling.operators import Operator, ShuffleOperator
from raycurator.backends.ray_actor_pool.scheduling.statistics import RunStatistics

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


class Recovery:
    """Lineage of live items to their source partitions, and recomputation of lost ones."""

    def __init__(
        self,
        lineage: LineageTracker | None,
        chain: OperatorChain,
        stats: RunStatistics,
        node_alive: Callable[[str], bool],
        partitions_from_first_stage: bool = False,
        on_partition_finished: Callable[[str], None] | None = None,
    ) -> None:
        """`lineage` (with `on_partition_finished`) tracks source partitions: the run's initial
        items, or the first stage's outputs when `partitions_from_first_stage`."""
        self.lineage = lineage
        self.chain = chain
        self.stats = stats
        self.node_alive = node_alive
        self.partitions_from_first_stage = partitions_from_first_stage
        self.on_partition_finished = on_partition_finished
        self.recomputes: dict[str, int] = {}
        self.recomputed_partitions = 0
        self.results_discarded = 0  # final outputs dropped because their partition ran again
        if lineage is not None:
            lineage.keep_finished_sources = chain.config.keep_results

    # -- lineage of calls ------------------------------------------------------------------------
    def admit_initial(self, items: list[Item]) -> list[Item]:
        """The run's starting items, tagged with their partitions (those finished before dropped)."""
        if self.lineage is not None and not self.partitions_from_first_stage:
            return self.lineage.admit(items)
        return items

    def trace(self, op: Operator, batch: Batch, outputs: list[Item], failed_positions: set[int]) -> list[Item]:
        """Lineage bookkeeping of a finished call (outputs counted before inputs are released);
        returns the outputs that go on (a first stage's outputs of finished partitions are dropped)."""
        created, op.created_internal = op.created_internal, 0
        lineage = self.lineage
        if lineage is None:
            return outputs
        if self.partitions_from_first_stage and op.index == 0:
            outputs = lineage.admit(outputs)
        else:
            origins = lineage.origins_of(batch.items)
            for item in outputs:
                item.origins = origins
            if op.index + 1 < len(self.chain):
                lineage.produced(origins, len(outputs))
            lineage.produced(origins, created)
        lineage.failed(batch.items[p] for p in failed_positions)
        lineage.consumed(batch.items)
        self._settle()
        return outputs

    def skipped(self, items: list[Item]) -> None:
        """These inputs failed and were skipped: their partitions are done with, but not finished."""
        if self.lineage is not None:
            self.lineage.failed(items)
            self.lineage.consumed(items)
            self._settle()

    def _settle(self) -> None:
        assert self.lineage is not None
        for key in self.lineage.settle():
            if self.on_partition_finished is not None:
                self.on_partition_finished(key)

    # -- lost data ------------------------------------------------------------------------------
    def recompute_inputs(self, batch: Batch, error_type: str, message: str) -> tuple[str, str] | None:
        """A call could not read its inputs: recompute them (the batch becomes void) and return None,
        or return the (error type, message) the batch fails with when that is impossible."""
        seeds: set[str] = set().union(*(item.origins for item in batch.items))
        if not seeds:  # the run's start token: nothing to recompute it from
            return error_type, message
        keys = self._affected(seeds)
        why_not = self._unrecoverable(keys)
        if why_not is not None:
            return "DataLostError", cannot_recompute(f"{error_type}: {message}", why_not)
        batch.void = True
        self.stats.discarded(self.chain[batch.stage_index], batch, batch.items)
        self._restart(keys)
        return None

    def recover_lost(self, lost: Callable[[Item], bool], reason: str) -> str | None:
        """Recompute every live item that `lost(item)` says is gone; returns why not when impossible."""
        seeds: set[str] = set()
        for item in self.live_items():
            if lost(item):
                seeds.update(item.origins)
        if not seeds:
            return None
        keys = self._affected(seeds)
        why_not = self._unrecoverable(keys)
        if why_not is not None:
            return cannot_recompute(reason, why_not)
        self._restart(keys)
        return None

    @staticmethod
    def _live_batches(op: Operator) -> list[Batch]:
        """Batches of `op` waiting for a retry or in flight (not those already discarded)."""
        return [b for b in [*op.retry_queue, *op.in_flight.values()] if not b.void]

    def live_items(self) -> Iterator[Item]:
        """Every item the run still holds: queued, in live batches, shuffle pieces, results."""
        for op in self.chain:
            yield from op.queue
            for batch in self._live_batches(op):
                yield from batch.items
            if isinstance(op, ShuffleOperator) and op.pieces is not None:
                for pieces in op.pieces:
                    yield from pieces
        yield from self.chain.results

    def _closure(self, seeds: set[str]) -> set[str]:
        """The partitions that share a batch or an object with `seeds`, transitively."""
        groups = [item.origins for item in self.live_items()]
        for op in self.chain:
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
            for op in self.chain:
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
            k for k in keys for item in lineage.sources[k] if item.node_id and not self.node_alive(item.node_id)
        )
        if lost_sources:
            return f"the source of partition(s) {lost_sources[:3]} was itself on the lost node"
        tired = sorted(k for k in keys if self.recomputes.get(k, 0) >= MAX_RECOMPUTES)
        if tired:
            return f"partition(s) {tired[:3]} were already recomputed {MAX_RECOMPUTES} times"
        return None

    def _restart(self, keys: set[str]) -> None:
        """Discard every live item of these partitions and send their sources in again."""
        assert self.lineage is not None

        def touched(item: Item) -> bool:
            return bool(item.origins & keys)

        for op in self.chain:
            if op.started and op.consumed_origins & keys:
                op.restart()  # it took in data of these partitions: it starts over when they come again
            self.stats.discarded(op, None, op.discard(touched))
            for in_flight in op.in_flight.values():
                if not in_flight.void and any(touched(i) for i in in_flight.items):
                    in_flight.void = True
                    self.stats.discarded(op, in_flight, in_flight.items)
        results = self.chain.results
        kept = [item for item in results if not touched(item)]
        self.results_discarded += len(results) - len(kept)
        results[:] = kept
        for key in keys:
            self.recomputes[key] = self.recomputes.get(key, 0) + 1
        entry = self.chain[1 if self.partitions_from_first_stage and len(self.chain) > 1 else 0]
        fresh = self.lineage.restart(sorted(keys))
        entry.add_inputs(fresh)
        self.stats.inputs_arrived(entry, len(fresh), from_upstream=False)
        self.chain.reopen_after(entry.index)
        self.chain.propagate_done()
        self.recomputed_partitions += len(keys)


def cannot_recompute(reason: str, why_not: str) -> str:
    return (
        f"data was lost ({reason}) and cannot be recomputed: {why_not}; "
        "run again (with checkpoint_dir set, finished partitions are skipped)"
    )
