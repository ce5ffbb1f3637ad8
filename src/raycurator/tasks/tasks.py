"""The task base class: one unit of data moving between stages."""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Generic, Self, TypeVar

from raycurator.perf import StagePerfStats

T = TypeVar("T")
TaskT = TypeVar("TaskT", bound="Task")


@dataclass
class Task(ABC, Generic[T]):
    """A batch of data with an id, the dataset it belongs to, and bookkeeping.

    `_stage_perf` collects one `StagePerfStats` per stage the task went through (in stage
    order); `_metadata` carries small facts such as `source_files`. A task made without a
    `task_id` (NeMo Curator 1.4 style: `DocumentBatch(dataset_name=..., data=...)`) gets one
    from the executor: its parent's id plus its position (see `assign_missing_task_ids`).
    """

    task_id: str = ""
    dataset_name: str = ""
    data: T = None  # type: ignore[assignment]
    _stage_perf: list[StagePerfStats] = field(default_factory=list)
    _metadata: dict[str, Any] = field(default_factory=dict)

    @property
    @abstractmethod
    def num_items(self) -> int:
        """Number of items (documents, files, ...) held by the task."""

    @abstractmethod
    def validate(self) -> bool:
        """Whether the task's data is well formed."""

    def derive(self, data: Any, **changes: Any) -> Self:
        """A new task of the same type holding `data`, with this task's id, dataset name, metadata
        and perf history (copies, so the two tasks do not share them); `changes` sets other fields
        (`task_id=...`, `dataset_name=...`)."""
        changes.setdefault("_stage_perf", list(self._stage_perf))
        changes.setdefault("_metadata", dict(self._metadata))
        return dataclasses.replace(self, data=data, **changes)

    def derive_as(self, task_type: type[TaskT], data: Any, **changes: Any) -> TaskT:
        """Like `derive`, for a task of another type (a file group read into a batch of documents,
        a batch written to files)."""
        fields = {
            "task_id": self.task_id,
            "dataset_name": self.dataset_name,
            "_stage_perf": list(self._stage_perf),
            "_metadata": dict(self._metadata),
        }
        fields.update(changes)
        return task_type(data=data, **fields)

    def add_stage_perf(self, perf_stats: StagePerfStats) -> None:
        """Record the figures of one stage that processed (or produced) this task."""
        self._stage_perf.append(perf_stats)

    @property
    def source_files(self) -> list[str]:
        """The input files this task's data came from (empty when unknown)."""
        return list(self._metadata.get("source_files", []))

    def data_size_bytes(self) -> int:
        """Approximate in-memory size of the data (0 when unknown)."""
        return 0

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(task_id={self.task_id!r}, dataset_name={self.dataset_name!r}, "
            f"num_items={self.num_items})"
        )


@dataclass(repr=False)
class SentinelTask(Task[None]):
    """A task without payload that marks something (start of a run, a filtered or failed slot)."""

    @property
    def num_items(self) -> int:
        return 0

    def validate(self) -> bool:
        return self.data is None


@dataclass(repr=False)
class _EmptyTask(SentinelTask):
    """The start token handed to a pipeline's first stage when no tasks are given.

    `EmptyTask` is one instance of this class, usable as a task itself (`stage.process(EmptyTask)`)
    and, as in NeMo Curator 1.4, as a constructor (`EmptyTask()` makes a fresh start token) and in
    `isinstance(task, EmptyTask)` checks.
    """

    def __call__(self) -> _EmptyTask:
        return _EmptyTask(task_id=self.task_id, dataset_name=self.dataset_name, data=None)

    def __instancecheck__(self, instance: object) -> bool:
        return isinstance(instance, _EmptyTask)


EmptyTask = _EmptyTask(task_id="empty", dataset_name="empty", data=None)
