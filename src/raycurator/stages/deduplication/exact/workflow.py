"""NeMo Curator 1.4's `stages.deduplication.exact.workflow` path.

`ExactDeduplicationWorkflow` runs pipelines, so it lives at the pipeline layer
(`raycurator.pipeline.exact_dedup`); this stage-layer module imports it on first attribute
access only, never when it loads.
"""

from typing import Any

__all__ = ["ExactDeduplicationWorkflow"]  # noqa: F822 (provided by __getattr__)


def __getattr__(name: str) -> Any:
    if name == "ExactDeduplicationWorkflow":
        from raycurator.pipeline.exact_dedup import ExactDeduplicationWorkflow

        return ExactDeduplicationWorkflow
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
