"""Exact and fuzzy (MinHash-LSH) deduplication of text documents, on CPUs.

The stages live in the `exact` and `fuzzy` subpackages, the shared removal stage in `removal`.
The workflows run pipelines, so they live at the pipeline layer
(`raycurator.pipeline.exact_dedup`, `raycurator.pipeline.fuzzy_dedup`); they import from here
and from NeMo Curator's paths (`...exact.workflow`, `...fuzzy.workflow`) too, loaded on first
access, so that this stage-layer package never imports the pipeline layer when it loads.
"""

from typing import Any

from raycurator.stages.deduplication.common import CURATOR_DEDUP_ID_STR, DUPLICATE_OF_FIELD
from raycurator.stages.deduplication.removal import TextDuplicatesRemovalStage

__all__ = [
    "CURATOR_DEDUP_ID_STR",
    "DUPLICATE_OF_FIELD",
    "DeduplicationResult",
    "ExactDeduplicationWorkflow",
    "FuzzyDeduplicationWorkflow",
    "TextDuplicatesRemovalStage",
]

_LAZY = {
    "DeduplicationResult": "raycurator.pipeline.dedup_workflow",
    "ExactDeduplicationWorkflow": "raycurator.pipeline.exact_dedup",
    "FuzzyDeduplicationWorkflow": "raycurator.pipeline.fuzzy_dedup",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
