"""`TextSemanticDeduplicationWorkflow` (text -> embeddings -> semantic dedup -> optional removal).

The workflow runs pipelines, so it lives in the pipeline layer
(`raycurator.pipeline.text_semantic_dedup`); this module path (NeMo Curator's) loads it on
first use.
"""

from typing import Any

__all__ = ["TextSemanticDeduplicationWorkflow"]  # noqa: F822 (provided by __getattr__)


def __getattr__(name: str) -> Any:
    """`TextSemanticDeduplicationWorkflow`, imported from the pipeline layer when first asked for."""
    if name == "TextSemanticDeduplicationWorkflow":
        from raycurator.pipeline.text_semantic_dedup import TextSemanticDeduplicationWorkflow

        return TextSemanticDeduplicationWorkflow
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
