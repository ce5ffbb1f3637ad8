"""NeMo Curator 1.4's `stages.text.deduplication` path.

`TextDuplicatesRemovalWorkflow` runs a pipeline, so it lives at the pipeline layer
(`raycurator.pipeline.removal_workflow`); it is imported from there on first access so that this
stage-layer package does not import the pipeline layer when it loads.
"""

from typing import Any

from raycurator.stages.text.deduplication.removal import TextDuplicatesRemovalStage

__all__ = ["TextDuplicatesRemovalStage", "TextDuplicatesRemovalWorkflow"]


def __getattr__(name: str) -> Any:
    if name == "TextDuplicatesRemovalWorkflow":
        from raycurator.pipeline.removal_workflow import TextDuplicatesRemovalWorkflow

        return TextDuplicatesRemovalWorkflow
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
