"""Per-call performance statistics of a stage, attached to the tasks it produces."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class StagePerfStats:
    """Timing and size figures of one `process_batch` call of one stage."""

    stage_name: str
    process_time: float = 0.0
    actor_idle_time: float = 0.0
    input_data_size_mb: float = 0.0
    num_items_processed: int = 0
    custom_metrics: dict[str, float] = field(default_factory=dict)
    # identifies the call these figures belong to: a call whose outputs are several tasks
    # attaches the same record to each, and aggregations count it once (as NeMo Curator does)
    record_id: str = field(default="", compare=False, repr=False)

    def __add__(self, other: StagePerfStats) -> StagePerfStats:
        if not isinstance(other, StagePerfStats):
            return NotImplemented
        metrics = dict(self.custom_metrics)
        for key, value in other.custom_metrics.items():
            metrics[key] = metrics.get(key, 0.0) + value
        return StagePerfStats(
            stage_name=self.stage_name,
            process_time=self.process_time + other.process_time,
            actor_idle_time=self.actor_idle_time + other.actor_idle_time,
            input_data_size_mb=self.input_data_size_mb + other.input_data_size_mb,
            num_items_processed=self.num_items_processed + other.num_items_processed,
            custom_metrics=metrics,
        )

    def __radd__(self, other: Any) -> StagePerfStats:
        if other == 0:  # lets sum() start from its default 0
            return self
        return self.__add__(other)

    def reset(self) -> None:
        """Zero every figure (the stage name stays)."""
        self.process_time = 0.0
        self.actor_idle_time = 0.0
        self.input_data_size_mb = 0.0
        self.num_items_processed = 0
        self.custom_metrics = {}

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (JSON-serialisable), without the record id."""
        data = asdict(self)
        data.pop("record_id")
        return data

    def items(self) -> list[tuple[str, Any]]:
        """Flat (metric, value) pairs; custom metrics appear as `custom.<name>`."""
        pairs: list[tuple[str, Any]] = [
            ("process_time", self.process_time),
            ("actor_idle_time", self.actor_idle_time),
            ("input_data_size_mb", self.input_data_size_mb),
            ("num_items_processed", self.num_items_processed),
        ]
        pairs.extend((f"custom.{name}", value) for name, value in self.custom_metrics.items())
        return pairs


class StageTimer:
    """Measures process time and the idle time between calls for one stage instance."""

    def __init__(self, stage: Any) -> None:
        """`stage`: the stage's name, or the stage itself (as NeMo Curator passes it)."""
        self.stage_name = stage if isinstance(stage, str) else str(stage.name)
        self._last_end: float | None = None
        self._input_size_mb = 0.0
        self._num_items = 0
        self._process_time = 0.0
        self._idle_time = 0.0

    def reinit(self, input_size_bytes: int = 0) -> None:
        """Start a new measurement; idle time is the gap since the previous call ended."""
        now = time.perf_counter()
        self._idle_time = 0.0 if self._last_end is None else now - self._last_end
        self._input_size_mb = input_size_bytes / (1024 * 1024)
        self._process_time = 0.0
        self._num_items = 0

    @contextmanager
    def time_process(self, num_items: int = 1) -> Iterator[None]:
        """Time the enclosed block as processing of `num_items` items."""
        start = time.perf_counter()
        try:
            yield
        finally:
            end = time.perf_counter()
            self._process_time += end - start
            self._num_items += num_items
            self._last_end = end

    def log_stats(self, custom_metrics: dict[str, float] | None = None) -> StagePerfStats:
        """The figures of the current measurement."""
        return StagePerfStats(
            stage_name=self.stage_name,
            process_time=self._process_time,
            actor_idle_time=self._idle_time,
            input_data_size_mb=self._input_size_mb,
            num_items_processed=self._num_items,
            custom_metrics=dict(custom_metrics or {}),
            record_id=uuid.uuid4().hex,
        )
