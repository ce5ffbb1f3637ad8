"""Operators: how one stage turns queued input items into batches, and results into items.

`MapOperator` is the common case; `BarrierOperator` waits for all inputs and sends them in
one call; `ShuffleOperator` runs a map phase (split every input into partitions) and a reduce
phase (merge each partition). The scheduler drives all of them through the same interface.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from raycurator.backends.ray_actor_pool.scheduling.items import Batch, BatchSummary, CallKind, Item, StageKind


@dataclass(frozen=True)
class StageSpec:
    """What the scheduler needs to know about a stage (no stage object, no Ray)."""

    name: str
    cpus: float = 1.0
    gpus: float = 0.0
    batch_size: int = 1
    max_workers: int | None = None
    on_error: str = "raise"
    max_task_retries: int = 3
    kind: StageKind = StageKind.MAP
    num_partitions: int | None = None
    member_names: tuple[str, ...] = ()  # the original stages of a fused group, in order

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", StageKind(self.kind))  # also accepts the kind's value ("barrier")

    @property
    def is_map(self) -> bool:
        """Whether the stage takes its inputs in batches as they come (not all at once)."""
        return self.kind is StageKind.MAP

    @property
    def members(self) -> tuple[str, ...]:
        """The names of the original stages this operator runs."""
        return self.member_names or (self.name,)


class Operator:
    """Input queue and batch making of one stage."""

    def __init__(self, index: int, spec: StageSpec) -> None:
        self.index = index
        self.spec = spec
        self.queue: deque[Item] = deque()
        self.retry_queue: deque[Batch] = deque()
        self.in_flight: dict[int, Batch] = {}
        self.upstream_done = False
        self.queued_bytes = 0
        self.created_internal = 0  # items a call created and kept inside the operator (shuffle pieces)
        self.consumed_origins: set[str] = set()  # source partitions an all-inputs stage has taken in
        self.avg_batch_s = math.inf  # moving average of a call's processing time
        self.avg_outputs = 0.0  # moving average of outputs per full batch (for chunked returns)

    # -- inputs ------------------------------------------------------------------------------
    def add_inputs(self, items: list[Item]) -> None:
        self.queue.extend(items)
        self.queued_bytes += sum(i.meta.nbytes for i in items)

    def _take(self, count: int) -> list[Item]:
        taken = [self.queue.popleft() for _ in range(min(count, len(self.queue)))]
        self.queued_bytes -= sum(i.meta.nbytes for i in taken)
        return taken

    # -- batches -----------------------------------------------------------------------------
    def has_ready_batch(self) -> bool:
        """Whether `next_batch` would return a batch now."""
        if self.retry_queue:
            return True
        return self._ready_fresh()

    def _ready_fresh(self) -> bool:
        size = self.spec.batch_size
        return len(self.queue) >= size or (self.upstream_done and bool(self.queue))

    def next_batch(self) -> Batch | None:
        """The next batch to submit (retries first), or None."""
        if self.retry_queue:
            return self.retry_queue.popleft()
        if not self._ready_fresh():
            return None
        return Batch(stage_index=self.index, items=self._take(self.spec.batch_size))

    def discard(self, lost: Callable[[Item], bool]) -> list[Item]:
        """Drop the queued inputs (and batches waiting for a retry) that `lost` selects."""
        dropped = [item for item in self.queue if lost(item)]
        if dropped:
            self.queue = deque(item for item in self.queue if not lost(item))
            self.queued_bytes -= sum(i.meta.nbytes for i in dropped)
        for batch in [b for b in self.retry_queue if any(lost(i) for i in b.items)]:
            self.retry_queue.remove(batch)
            dropped.extend(batch.items)
        return dropped

    @property
    def started(self) -> bool:
        """Whether an all-inputs stage has begun (it took in inputs it would need again to redo its work)."""
        return False

    def restart(self) -> None:
        """Forget what an all-inputs stage took in: it starts over when its inputs come again."""
        self.consumed_origins = set()

    def learn(self, batch: Batch, summary: BatchSummary) -> None:
        """Update the moving averages of call time and fan-out with a finished call."""
        if self.counts_inputs(batch) and batch.items:
            per_batch = len(summary.outputs) * max(1, self.spec.batch_size) / len(batch.items)
            last = self.avg_outputs
            self.avg_outputs = per_batch if last == 0 else 0.7 * last + 0.3 * per_batch
        last_s = self.avg_batch_s
        self.avg_batch_s = summary.process_time if last_s == math.inf else 0.8 * last_s + 0.2 * summary.process_time

    def choose_call(self, batch: Batch, downstream: StageSpec | None) -> None:
        """Calls that fan out return their outputs in chunks sized to the downstream batch."""
        if batch.call not in (CallKind.RUN, CallKind.RUN_CHUNKED) or downstream is None or not downstream.is_map:
            return
        expected = self.avg_outputs * len(batch.items) / max(1, self.spec.batch_size)
        if expected > downstream.batch_size:
            batch.call = CallKind.RUN_CHUNKED
            batch.kwargs["chunk_size"] = downstream.batch_size
        elif batch.call is CallKind.RUN_CHUNKED:  # a retried batch: plain call again
            batch.call = CallKind.RUN
            batch.kwargs.pop("chunk_size", None)

    def ready_batches(self) -> int:
        """How many batches `next_batch` could return now, about."""
        if not self.has_ready_batch():
            return 0
        if not self.spec.is_map:
            return max(1, len(self.retry_queue) + (1 if self.queue else 0))
        return len(self.retry_queue) + math.ceil(len(self.queue) / max(1, self.spec.batch_size))

    def batches_of_work(self) -> int:
        """The calls the queued work needs (sizes a stage's pool up front, stage by stage)."""
        return math.ceil(self.pending_work / max(1, self.spec.batch_size))

    def retry(self, batch: Batch) -> None:
        """Queue a batch again after its actor died."""
        batch.actor_id = None
        self.retry_queue.appendleft(batch)

    def outputs_of(self, batch: Batch, refs: list[Any], summary: BatchSummary) -> list[Item]:
        """The items a finished call hands downstream."""
        chunk = batch.kwargs.get("chunk_size")
        if chunk:
            return [Item(refs[i // chunk], i % chunk, meta) for i, meta in enumerate(summary.outputs)]
        if len(refs) == 1 and len(summary.outputs) != 1:
            return [Item(refs[0], i, meta) for i, meta in enumerate(summary.outputs)]
        if len(refs) == 1:
            return [Item(refs[0], 0, summary.outputs[0])]
        return [Item(ref, None, meta) for ref, meta in zip(refs, summary.outputs, strict=True)]

    def counts_inputs(self, batch: Batch) -> bool:
        """Whether this batch's inputs are the stage's inputs (not an internal phase)."""
        return True

    def input_failed(self, batch: Batch) -> None:
        """The inputs of `batch` failed and were skipped (a shuffle stops waiting for them)."""

    @property
    def pending_work(self) -> int:
        """Queued input items plus batches waiting for a retry."""
        retrying = sum(len(b.items) for b in self.retry_queue) if self.retry_queue else 0
        return len(self.queue) + retrying

    def finished(self) -> bool:
        """Upstream done, nothing queued, nothing in flight."""
        return self.upstream_done and not self.queue and not self.retry_queue and not self.in_flight


class BarrierOperator(Operator):
    """Sends every input in a single call, once upstream is done."""

    def __init__(self, index: int, spec: StageSpec) -> None:
        super().__init__(index, spec)
        self.sent = False

    @property
    def started(self) -> bool:
        return self.sent

    def restart(self) -> None:
        super().restart()
        self.sent = False

    def batches_of_work(self) -> int:
        return 1

    def _ready_fresh(self) -> bool:
        return self.upstream_done and bool(self.queue)

    def next_batch(self) -> Batch | None:
        if self.retry_queue:
            return self.retry_queue.popleft()
        if not self._ready_fresh():
            return None
        self.sent = True
        items = self._take(len(self.queue))
        self.consumed_origins.update(*(item.origins for item in items))
        return Batch(stage_index=self.index, items=items)


class ShuffleOperator(Operator):
    """Map phase: each input split into `n` partition pieces; reduce phase: one call per partition."""

    def __init__(self, index: int, spec: StageSpec) -> None:
        super().__init__(index, spec)
        self.num_partitions: int | None = None
        self.pieces: list[list[Item]] | None = None
        self.maps_total = 0
        self.maps_done = 0
        self.reduces_left: deque[int] = deque()  # partitions not yet sent to a reduce call, in order

    @property
    def started(self) -> bool:
        return self.pieces is not None

    def restart(self) -> None:
        super().restart()
        self.num_partitions = None
        self.pieces = None
        self.maps_total = self.maps_done = 0
        self.reduces_left = deque()

    def batches_of_work(self) -> int:
        return max(self.pending_work, self.spec.num_partitions or 0)

    def _start(self) -> None:
        self.num_partitions = self.spec.num_partitions or max(1, len(self.queue))
        self.pieces = [[] for _ in range(self.num_partitions)]
        self.maps_total = len(self.queue)

    def _ready_fresh(self) -> bool:
        if not self.upstream_done:
            return False
        if self.pieces is None:
            return bool(self.queue)
        if self.queue:
            return True
        return self.maps_done == self.maps_total and bool(self.reduces_left)

    def next_batch(self) -> Batch | None:
        if self.retry_queue:
            return self.retry_queue.popleft()
        if not self._ready_fresh():
            return None
        if self.pieces is None:
            self._start()
            self.reduces_left = deque(range(self.num_partitions or 0))
        assert self.num_partitions is not None and self.pieces is not None
        if self.queue:
            items = self._take(1)
            self.consumed_origins.update(items[0].origins)
            return Batch(
                stage_index=self.index,
                items=items,
                call=CallKind.SHUFFLE_MAP,
                kwargs={"num_partitions": self.num_partitions},
            )
        while self.reduces_left:
            partition = self.reduces_left.popleft()
            pieces = self.pieces[partition]
            if pieces:  # a partition nothing hashed to needs no call
                return Batch(
                    stage_index=self.index,
                    items=pieces,
                    call=CallKind.SHUFFLE_REDUCE,
                    kwargs={"partition_index": partition, "dataset_name": pieces[0].meta.dataset_name},
                )
        return None

    def outputs_of(self, batch: Batch, refs: list[Any], summary: BatchSummary) -> list[Item]:
        if batch.call is not CallKind.SHUFFLE_MAP:
            return super().outputs_of(batch, refs, summary)
        assert self.pieces is not None
        self.maps_done += 1
        source = batch.items[0]
        rows = summary.partition_rows or [0] * len(refs)
        for partition, (ref, count) in enumerate(zip(refs, rows, strict=True)):
            if count:
                meta = replace(source.meta, num_items=count, nbytes=0)
                piece = Item(ref, None, meta, source.origins, summary.node_id)
                self.pieces[partition].append(piece)
                self.created_internal += 1
        return []

    def counts_inputs(self, batch: Batch) -> bool:
        return batch.call is CallKind.SHUFFLE_MAP

    def input_failed(self, batch: Batch) -> None:
        if batch.call is CallKind.SHUFFLE_MAP:
            self.maps_done += 1  # the reduce phase must not wait for the dropped input

    def finished(self) -> bool:
        return super().finished() and (self.pieces is None or not self.reduces_left)


OPERATOR_KINDS: dict[StageKind, type[Operator]] = {
    StageKind.MAP: Operator,
    StageKind.BARRIER: BarrierOperator,
    StageKind.SHUFFLE: ShuffleOperator,
}


def make_operator(index: int, spec: StageSpec) -> Operator:
    """The operator class registered for the stage's kind."""
    return OPERATOR_KINDS[spec.kind](index, spec)
