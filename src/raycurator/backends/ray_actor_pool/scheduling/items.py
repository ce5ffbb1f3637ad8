"""Plain records the scheduler works with: task metadata, object-store items, batches, summaries.

Nothing here touches Ray: object references are opaque values (`ref`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from raycurator.backends.failures import TaskFailure
from raycurator.errors import SkippedRecord


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
    member_stats: list[Any] | None = None  # per member of a fused stage (fusion.MemberStats)
    custom_metrics: dict[str, float] = field(default_factory=dict)  # logged by the stage, summed over the call
    skipped_records: list[SkippedRecord] = field(default_factory=list)  # input records the stage skipped
    node_id: str = ""
    worker_id: str = ""


_batch_ids = itertools.count(1)


@dataclass
class Batch:
    """One call to submit: the inputs, the actor method, and how many objects it returns."""

    stage_index: int
    items: list[Item]
    method: str = "run"
    num_returns: int | str = 2  # "streaming": a generator call (fan-out outputs in chunks)
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
