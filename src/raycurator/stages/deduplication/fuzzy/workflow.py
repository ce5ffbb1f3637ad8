"""NeMo Curator 1.4's `stages.deduplication.fuzzy.workflow` path.

`FuzzyDeduplicationWorkflow` runs pipelines, so it lives at the pipeline layer
(`raycurator.pipeline.fuzzy_dedup`); this stage-layer module imports it on first attribute
access only, never when it loads.
"""

from typing import Any

__all__ = ["FuzzyDeduplicationWorkflow"]  # noqa: F822 (provided by __getattr__)


def __getattr__(name: str) -> Any:
    if name == "FuzzyDeduplicationWorkflow":
        from raycurator.pipeline.fuzzy_dedup import FuzzyDeduplicationWorkflow

        return FuzzyDeduplicationWorkflow
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
