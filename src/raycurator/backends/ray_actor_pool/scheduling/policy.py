"""Run modes as policies of the one scheduler: which stages run now, and how their pools grow.

- `StreamingPolicy` (default): every unfinished stage runs; a stage starts with one actor and
  grows where work waits; dead actors are replaced; a stage is held back while its downstream
  queue is full.
- `StageByStagePolicy`: a stage runs once everything before it finished; its pool is sized up
  front to its work; only the running stage holds actors; no backpressure (nothing overlaps).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from raycurator.backends.ray_actor_pool.scheduling.operators import Operator


class RunPolicy(Protocol):
    """What differs between run modes; the scheduler asks, never checks a mode name."""

    applies_backpressure: bool
    grows_pools: bool  # replacements for dead actors, scale-up where work waits, preemption
    fuses_stages: bool  # compatible neighbouring map stages may share an actor

    def active(self, op: Operator) -> bool:
        """Whether `op` may run batches (and get actors) now."""
        ...

    def holds_actors(self, op: Operator) -> bool:
        """Whether an unfinished stage keeps its idle actors."""
        ...

    def pool_limit(self, op: Operator, slots: int) -> int:
        """The most actors `op` may have, given `slots` places the cluster has for it."""
        ...

    def first_actors(self, limit: int) -> int:
        """How many actors an active stage gets before it grows by demand."""
        ...


@dataclass(frozen=True)
class StreamingPolicy:
    """Stages overlap; pools start at one actor and grow with the work."""

    applies_backpressure: bool = True
    grows_pools: bool = True
    fuses_stages: bool = True

    def active(self, op: Operator) -> bool:
        return not op.finished()

    def holds_actors(self, op: Operator) -> bool:
        return True

    def pool_limit(self, op: Operator, slots: int) -> int:
        return slots

    def first_actors(self, limit: int) -> int:
        return 1


@dataclass(frozen=True)
class StageByStagePolicy:
    """One stage at a time, each with a pool sized to its work."""

    applies_backpressure: bool = False
    grows_pools: bool = False
    fuses_stages: bool = False

    def active(self, op: Operator) -> bool:
        return op.upstream_done and not op.finished()

    def holds_actors(self, op: Operator) -> bool:
        # only the running stage holds actors (a recomputation can make a later stage wait)
        return self.active(op)

    def pool_limit(self, op: Operator, slots: int) -> int:
        return min(slots, max(1, op.batches_of_work()))

    def first_actors(self, limit: int) -> int:
        return limit


POLICIES: dict[str, RunPolicy] = {"streaming": StreamingPolicy(), "stage_by_stage": StageByStagePolicy()}
