"""NeMo Curator 1.4's `stages.text.deduplication.removal_workflow` path (see the package docstring)."""

from typing import Any

__all__ = ["TextDuplicatesRemovalWorkflow"]  # noqa: F822 (provided by __getattr__)


def __getattr__(name: str) -> Any:
    if name == "TextDuplicatesRemovalWorkflow":
        from raycurator.pipeline.removal_workflow import TextDuplicatesRemovalWorkflow

        return TextDuplicatesRemovalWorkflow
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
