"""raycurator: curate large text datasets with streaming pipelines on Ray."""

from raycurator.backends.base import BaseExecutor, BaseStageAdapter, NodeInfo, WorkerMetadata
from raycurator.backends.local import LocalExecutor
from raycurator.errors import (
    InsufficientResourcesError,
    PipelineConfigError,
    RayCuratorError,
    StageExecutionError,
    StageInputError,
)
from raycurator.perf import StagePerfStats, StageTimer
from raycurator.pipeline import Pipeline
from raycurator.stages import (
    CompositeStage,
    ProcessingStage,
    Resources,
    get_stage_class,
    processing_stage,
)
from raycurator.tasks import DocumentBatch, EmptyTask, FileGroupTask, Task

__version__ = "0.1.0"

__all__ = [
    "BaseExecutor",
    "BaseStageAdapter",
    "CompositeStage",
    "DocumentBatch",
    "EmptyTask",
    "FileGroupTask",
    "InsufficientResourcesError",
    "LocalExecutor",
    "NodeInfo",
    "Pipeline",
    "PipelineConfigError",
    "ProcessingStage",
    "RayCuratorError",
    "Resources",
    "StageExecutionError",
    "StageInputError",
    "StagePerfStats",
    "StageTimer",
    "Task",
    "WorkerMetadata",
    "get_stage_class",
    "processing_stage",
]
