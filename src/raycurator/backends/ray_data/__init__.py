"""The Ray Data backend: a pipeline runs as one streaming Ray Data dataset of tasks."""

from raycurator.backends.ray_data.config import RayDataConfig
from raycurator.backends.ray_data.executor import PipelineStalledError, RayDataExecutor

__all__ = ["PipelineStalledError", "RayDataConfig", "RayDataExecutor"]
