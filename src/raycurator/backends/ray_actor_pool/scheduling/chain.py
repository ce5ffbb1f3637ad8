"""The chain of operators: where outputs go, when a stage's upstream is done, backpressure.

Each operator owns its queue and how it cuts batches (`operators.py`); the chain owns what
lies between them: handing a stage's outputs to the next one (the last stage's outputs are
the run's results), marking a stage's upstream done once every stage before it finished, and
holding a stage back while its downstream queue is over its limit.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator

from raycurator.backends.ray_actor_pool.scheduling.items import Item
from raycurator.backends.ray_actor_pool.scheduling.operators import Operator, StageSpec, make_operator
from raycurator.backends.ray_actor_pool.scheduling.scheduler_config import SchedulerConfig


class OperatorChain:
    """The operators of a run in stage order, and the last stage's outputs (`results`)."""

    def __init__(self, specs: list[StageSpec], config: SchedulerConfig) -> None:
        self.operators: list[Operator] = [make_operator(i, s) for i, s in enumerate(specs)]
        self.config = config
        self.results: list[Item] = []

    def __iter__(self) -> Iterator[Operator]:
        return iter(self.operators)

    def __getitem__(self, index: int) -> Operator:
        return self.operators[index]

    def __len__(self) -> int:
        return len(self.operators)

    def downstream(self, op: Operator) -> Operator | None:
        """The operator after `op` (None for the last)."""
        return self.operators[op.index + 1] if op.index + 1 < len(self.operators) else None

    @property
    def finished(self) -> bool:
        return all(op.finished() for op in self.operators)

    def propagate_done(self) -> None:
        """A stage whose upstream stage finished has its upstream done."""
        for previous, op in itertools.pairwise(self.operators):
            if previous.finished() and not op.upstream_done:
                op.upstream_done = True

    def reopen_after(self, index: int) -> None:
        """Inputs enter stage `index` again: the stages after it wait for them."""
        for op in self.operators[index + 1 :]:
            op.upstream_done = False

    def route(self, op: Operator, outputs: list[Item]) -> Operator | None:
        """Hand `outputs` of `op` downstream (or keep them as results); returns the operator that got them."""
        if not outputs:
            return None
        downstream = self.downstream(op)
        if downstream is not None:
            downstream.add_inputs(outputs)
            return downstream
        if self.config.keep_results:
            self.results.extend(outputs)
        return None

    def queue_limit(self, op: Operator, actors: int) -> float:
        """How much work may wait in `op`'s queue, given its `actors`."""
        if not op.spec.is_map:
            return math.inf  # barriers need every input
        if self.config.queue_limit_items:
            return self.config.queue_limit_items
        return max(4, 2 * op.spec.batch_size * max(1, actors) * max(1, self.config.pipeline_depth))

    def blocked(self, op: Operator, downstream_actors: int) -> bool:
        """Backpressure: the queue of the stage after `op` is over its limit."""
        downstream = self.downstream(op)
        if downstream is None or not downstream.spec.is_map:
            return False
        return (
            downstream.pending_work >= self.queue_limit(downstream, downstream_actors)
            or downstream.queued_bytes >= self.config.queue_limit_bytes
        )
