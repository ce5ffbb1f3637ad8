"""The state the parts of the scheduler share, declared once.

`StreamingScheduler` is assembled from mixins (placement, lifecycle, accounting, recovery); each
inherits this class for the attributes `StreamingScheduler.__init__` sets and for the hooks one
part calls in another.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from raycurator.backends.failures import TaskFailure
from raycurator.backends.ray_actor_pool.scheduling.capacity import ActorState, NodeCapacity
from raycurator.backends.ray_actor_pool.scheduling.items import Batch, Item
from raycurator.backends.ray_actor_pool.scheduling.lineage import LineageTracker
from raycurator.backends.ray_actor_pool.scheduling.operators import Operator, StageSpec
from raycurator.backends.ray_actor_pool.scheduling.scheduler_config import SchedulerConfig
from raycurator.backends.report import StageCounters


class SchedulerState:
    """Attributes of a run's scheduler and the hooks its parts share."""

    config: SchedulerConfig
    specs: list[StageSpec]
    operators: list[Operator]
    members: list[list[StageCounters]]  # per operator, the counters of the stages it runs
    counters: list[StageCounters]
    nodes: dict[str, NodeCapacity]
    actors: dict[str, ActorState]
    batches: dict[int, Batch]
    results: list[Item]
    skipped: list[TaskFailure]
    fatal: TaskFailure | None
    clock: Callable[[], float]
    lineage: LineageTracker | None
    partitions_from_first_stage: bool
    on_partition_finished: Callable[[str], None] | None
    actors_requested: int
    recomputed_partitions: int
    results_discarded: int
    _actor_ids: itertools.count
    _deaths: list[int]
    _retiring: set[str]
    _recomputes: dict[str, int]

    def _active(self, op: Operator) -> bool:
        raise NotImplementedError

    def _blocked(self, op: Operator) -> bool:
        raise NotImplementedError

    def _propagate_done(self) -> None:
        raise NotImplementedError

    def _finish_call(self, batch: Batch) -> Operator:
        raise NotImplementedError

    def _fail_batch(self, batch: Batch, error_type: str, message: str, traceback_text: str) -> None:
        raise NotImplementedError

    def on_actor_died(self, actor_id: str) -> list[Batch]:
        raise NotImplementedError

    def stage_actors(self, index: int) -> list[ActorState]:
        raise NotImplementedError
