"""Knobs of the scheduling policy."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SchedulerConfig:
    """Knobs of the scheduling policy."""

    mode: str = "streaming"  # or "stage_by_stage"
    queue_limit_items: int = 0  # 0: automatic (twice what the downstream pool can take)
    queue_limit_bytes: int = 1 << 30
    pipeline_depth: int = 2  # calls queued on one actor, for stages whose batches are short
    short_batch_s: float = 0.05
    max_actors_per_node_factor: float = 2.0
    keep_results: bool = True  # hold the last stage's outputs for the caller (else only count them)
