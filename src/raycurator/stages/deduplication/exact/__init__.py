"""Exact deduplication: hash of the normalised text, shuffle by hash, one document kept per hash."""

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
from raycurator.stages.deduplication.exact.workflow import ExactDeduplicationWorkflow

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
