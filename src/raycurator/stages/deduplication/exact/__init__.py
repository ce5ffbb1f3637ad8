"""Exact deduplication: hash of the normalised text, shuffle by hash, one document kept per hash."""

from raycurator.stages.deduplication.exact.hashing import (
    EXACT_HASH_FIELD,
    ExactDuplicateHashStage,
    exact_text_hash,
    normalize_for_exact_match,
)
from raycurator.stages.deduplication.exact.identify import ExactDuplicateIdentification
from raycurator.stages.deduplication.exact.workflow import ExactDeduplicationWorkflow

__all__ = [
    "EXACT_HASH_FIELD",
    "ExactDeduplicationWorkflow",
    "ExactDuplicateHashStage",
    "ExactDuplicateIdentification",
    "exact_text_hash",
    "normalize_for_exact_match",
]
