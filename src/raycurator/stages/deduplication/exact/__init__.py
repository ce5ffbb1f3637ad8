"""Exact deduplication: hash of the normalised text, shuffle by hash, one document kept per hash.

`ExactDeduplicationWorkflow` lives at the pipeline layer; it is loaded from there on first access.
"""

from typing import Any

from raycurator.stages.deduplication.exact.hashing import (
    EXACT_HASH_FIELD,
    ExactDuplicateHashStage,
    exact_text_hash,
    normalize_for_exact_match,
)
from raycurator.stages.deduplication.exact.identification import (
    EXACT_DUPLICATE_GROUP_FIELD,
    ExactDuplicateIdentification,
)
from raycurator.stages.deduplication.exact.identify import ExactDuplicateIdsStage

__all__ = [
    "EXACT_DUPLICATE_GROUP_FIELD",
    "EXACT_HASH_FIELD",
    "ExactDeduplicationWorkflow",
    "ExactDuplicateHashStage",
    "ExactDuplicateIdentification",
    "ExactDuplicateIdsStage",
    "exact_text_hash",
    "normalize_for_exact_match",
]


def __getattr__(name: str) -> Any:
    if name == "ExactDeduplicationWorkflow":
        from raycurator.pipeline.exact_dedup import ExactDeduplicationWorkflow

        return ExactDeduplicationWorkflow
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
