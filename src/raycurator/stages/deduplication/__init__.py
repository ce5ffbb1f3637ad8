"""Exact and fuzzy (MinHash-LSH) deduplication of text documents, on CPUs.

Workflows: `raycurator.stages.deduplication.exact.workflow.ExactDeduplicationWorkflow` and
`raycurator.stages.deduplication.fuzzy.workflow.FuzzyDeduplicationWorkflow`; the stages they
are made of live in the `exact` and `fuzzy` subpackages, the shared removal stage in `removal`.
"""

from raycurator.stages.deduplication.common import CURATOR_DEDUP_ID_STR, DUPLICATE_OF_FIELD
from raycurator.stages.deduplication.removal import TextDuplicatesRemovalStage
from raycurator.stages.deduplication.workflow_utils import DeduplicationResult

__all__ = [
    "CURATOR_DEDUP_ID_STR",
    "DUPLICATE_OF_FIELD",
    "DeduplicationResult",
    "TextDuplicatesRemovalStage",
]
