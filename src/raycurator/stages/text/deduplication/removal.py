"""NeMo Curator 1.4's `stages.text.deduplication.removal` path: `TextDuplicatesRemovalStage`."""

from raycurator.stages.deduplication.removal import TextDuplicatesRemovalStage

__all__ = ["TextDuplicatesRemovalStage"]
