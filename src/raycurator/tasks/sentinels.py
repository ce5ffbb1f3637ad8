"""Payload-less marker tasks, as in NeMo Curator 1.4's `tasks.sentinels`.

- `EmptyTask`: the start token a pipeline's first stage receives when no tasks are given.
- `NoneTask`: returned by a stage for an input it filtered out; executors drop it exactly like
  a returned `None` (the input counts as filtered).
- `FailedTask`: returned by a stage for an input it could not process; the input fails as if
  the stage had raised (`TaskFailedError`): the run stops naming stage and task, or, with the
  actor-pool executor's `on_error="skip"`, the input goes to the failure ledger and its source
  partition is not checkpointed, so a rerun tries it again. It is never counted as filtered.
"""

from __future__ import annotations

from dataclasses import dataclass

from raycurator.tasks.tasks import EmptyTask, SentinelTask


@dataclass(repr=False)
class NoneTask(SentinelTask):
    """Marks an input slot as intentionally filtered out."""

    dataset_name: str = "none"


@dataclass(repr=False)
class FailedTask(SentinelTask):
    """Marks an input slot whose processing failed."""

    dataset_name: str = "failed"


__all__ = ["EmptyTask", "FailedTask", "NoneTask", "SentinelTask"]
