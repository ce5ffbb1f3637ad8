"""Plain records the scheduler works with: task metadata, object-store items, batches, summaries.

Nothing here touches Ray: object references are opaque values (`ref`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from raycurator.backends.failures import TaskFailure
from raycurator.errors import SkippedRecord


class StageKind(Enum):
    """How a stage takes its inputs: in batches (map), all at once (barrier), or by hash (shuffle)."""

    MAP = "map"
    BARRIER = "barrier"
    SHUFFLE = "shuffle"


class CallKind(Enum):
    """What a call asks an actor to do (`runtime.py` maps each kind to the actor's method)."""

    RUN = "run"  # process a batch; outputs in one object
    RUN_CHUNKED = "run_chunked"  # process a batch; outputs in chunks of the downstream batch size
    SHUFFLE_MAP = "shuffle_map"  # split one input into one piece per partition
    SHUFFLE_REDUCE = "shuffle_reduce"  # merge the pieces of one partition


@dataclass(frozen=True)
class TaskMeta:
    """Small facts about one task that the driver keeps instead of its data."""

    task_id: str
    num_items: int = 0
    nbytes: int = 0
    source_files: tuple[str, ...] = ()
    dataset_name: str = ""


@dataclass
class Item:
    """One task held in the object store: `ref` alone, or element `index` of the list at `ref`."""

    ref: Any
    index: int | None
    meta: TaskMeta
    origins: frozenset[str] = frozenset()
    node_id: str = ""  # where the object was made ("": by the driver)


@dataclass
class MemberStats:
    """What one member stage of a fused group did during one call."""

    stage_name: str
    tasks_in: int = 0
    tasks_out: int = 0
    filtered: int = 0
    failed: int = 0
    rows_in: int = 0
    rows_out: int = 0
    rows_failed: int = 0
    process_time: float = 0.0
    output_counts: list[int] = field(default_factory=list)
    custom_metrics: dict[str, float] = field(default_factory=dict)
    skipped_records: list[SkippedRecord] = field(default_factory=list)

    def add(self, other: MemberStats) -> None:
        """Add the figures of another call of the same member."""
        for name in ("tasks_in", "tasks_out", "filtered", "failed", "rows_in", "rows_out", "rows_failed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.process_time += other.process_time
        self.output_counts.extend(other.output_counts)
        add_metrics(self.custom_metrics, other.custom_metrics)
        self.skipped_records.extend(other.skipped_records)


def add_metrics(total: dict[str, float], metrics: dict[str, float] | None) -> dict[str, float]:
    """Add `metrics` into `total` name by name; returns `total`."""
    for name, value in (metrics or {}).items():
        total[name] = total.get(name, 0.0) + float(value)
    return total


@dataclass
class BatchSummary:
    """What an actor reports about one call; built inside the actor, small by design."""

    outputs: list[TaskMeta] = field(default_factory=list)
    output_counts: list[int] | None = None
    rows_in: int = 0
    rows_out: int = 0
    process_time: float = 0.0
    idle_time: float = 0.0
    failures: list[TaskFailure] = field(default_factory=list)
    failed_input_positions: list[int] = field(default_factory=list)
    partition_rows: list[int] | None = None
    member_stats: list[MemberStats] | None = None  # per member of a fused group, in order
    custom_metrics: dict[str, float] = field(default_factory=dict)  # logged by the stage, summed over the call
    skipped_records: list[SkippedRecord] = field(default_factory=list)  # input records the stage skipped
    node_id: str = ""
    worker_id: str = ""


_batch_ids = itertools.count(1)


@dataclass
class Batch:
    """One call to submit: the inputs, what to do with them (`call`) and the call's arguments."""

    stage_index: int
    items: list[Item]
    call: CallKind = CallKind.RUN
    kwargs: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    batch_id: int = field(default_factory=lambda: next(_batch_ids))
    actor_id: str | None = None
    submitted_at: float = 0.0
    void: bool = False  # its inputs were discarded for a recomputation: its result is ignored

    @property
    def task_ids(self) -> list[str]:
        return [item.meta.task_id for item in self.items]

    @property
    def source_files(self) -> list[str]:
        files: list[str] = []
        for item in self.items:
            files.extend(f for f in item.meta.source_files if f not in files)
        return files

    @property
    def nbytes(self) -> int:
        return sum(item.meta.nbytes for item in self.items)
