"""Stages: the steps of a pipeline."""

from raycurator.stages.base import CompositeStage, ProcessingStage, RayStageSpecKeys
from raycurator.stages.function_decorators import processing_stage
from raycurator.stages.registry import get_stage_class, list_stage_classes
from raycurator.stages.resources import Resources

__all__ = [
    "CompositeStage",
    "ProcessingStage",
    "RayStageSpecKeys",
    "Resources",
    "get_stage_class",
    "list_stage_classes",
    "processing_stage",
]
