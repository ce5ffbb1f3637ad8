"""`Modify` under NeMo Curator's module name."""

from raycurator.stages.text.modifiers.modify import Modify

__all__ = ["Modify"]
