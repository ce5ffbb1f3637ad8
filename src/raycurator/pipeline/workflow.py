"""Workflows: multi-pipeline jobs (deduplication, removal) and the result they return.

Mirrors NeMo Curator 1.4's `pipeline.workflow`: a workflow's `run()` returns a
`WorkflowRunResult` holding the output tasks of each pipeline it ran and free-form metadata
(timings, counts).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from raycurator.tasks import Task


@dataclass
class WorkflowRunResult:
    """What a workflow run produced: `{pipeline name: output tasks}` and metadata."""

    workflow_name: str
    pipeline_tasks: dict[str, list[Task]] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def add_pipeline_tasks(self, pipeline_name: str, tasks: list[Task] | None) -> None:
        """Record the output tasks of one pipeline (None records an empty list)."""
        self.pipeline_tasks[pipeline_name] = list(tasks or [])

    def extend_metadata(self, updates: dict[str, Any] | None = None) -> None:
        """Merge `updates` into the metadata."""
        self.metadata.update(updates or {})

    def add_metadata(self, key: str, value: Any) -> None:
        """Set one metadata entry."""
        self.metadata[key] = value

    def get_metadata(self, key: str) -> Any:
        """One metadata entry (None when absent)."""
        return self.metadata.get(key)


class WorkflowBase(ABC):
    """A job made of one or more pipelines; `run()` returns a `WorkflowRunResult`."""

    @abstractmethod
    def run(self, *args: Any, **kwargs: Any) -> WorkflowRunResult:
        """Run the workflow."""
