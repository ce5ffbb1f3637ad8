"""Pipelines: chains of stages."""

from raycurator.pipeline.pipeline import Pipeline

__all__ = ["Pipeline"]
