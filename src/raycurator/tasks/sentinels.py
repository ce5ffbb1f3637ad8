"""Payload-less marker tasks, as in NeMo Curator 1.4's `tasks.sentinels`.

- `EmptyTask`: the start token a pipeline's first stage receives when no tasks are given.
- `NoneTask`: returned by a stage for an input it filtered out; executors drop it exactly like
  a returned `None` (the input counts as filtered).
- `FailedTask`: returned by a stage for an input it could not process; executors drop it and
  count the input as failed (it goes to the failure ledger of the actor-pool executor), so it
  is not mistaken for a filtered one.
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
