"""Semantic deduplication (SemDeDup) on CPUs, on GPUs when given: k-means over embeddings, then
pairwise cosine similarity within each cluster, then the ids to remove at a given eps.

Stages: `KMeansStage`, `PairwiseStage`, `IdentifyDuplicatesStage`, `RankingStrategy`.
`SemanticDeduplicationWorkflow` runs pipelines, so it lives in the pipeline layer
(`raycurator.pipeline.semantic_dedup`); it is importable from here too, loaded on first use.
"""

from typing import Any

from raycurator.stages.deduplication.semantic.identify_duplicates import IdentifyDuplicatesStage
from raycurator.stages.deduplication.semantic.kmeans import KMeansStage
from raycurator.stages.deduplication.semantic.pairwise import PairwiseStage
from raycurator.stages.deduplication.semantic.ranking import RankingStrategy

__all__ = [
    "IdentifyDuplicatesStage",
    "KMeansStage",
    "PairwiseStage",
    "RankingStrategy",
    "SemanticDeduplicationWorkflow",
]


def __getattr__(name: str) -> Any:
    """`SemanticDeduplicationWorkflow`, imported from the pipeline layer when first asked for."""
    if name == "SemanticDeduplicationWorkflow":
        from raycurator.pipeline.semantic_dedup import SemanticDeduplicationWorkflow

        return SemanticDeduplicationWorkflow
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
