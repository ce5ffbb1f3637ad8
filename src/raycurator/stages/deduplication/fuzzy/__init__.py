"""Fuzzy deduplication on CPUs: MinHash over character n-grams, LSH buckets via the shuffle,
optional Jaccard verification, connected components.

`FuzzyDeduplicationWorkflow` lives at the pipeline layer; it is loaded from there on first access.
"""

from typing import Any

from raycurator.stages.deduplication.fuzzy.buckets import BucketsToCandidatePairs
from raycurator.stages.deduplication.fuzzy.connected_components import ConnectedComponentsStage
from raycurator.stages.deduplication.fuzzy.jaccard import CandidatePairTextJoin, JaccardVerificationStage
from raycurator.stages.deduplication.fuzzy.lsh import (
    LSHStage,
    band_bucket_ids,
    candidate_probability,
    optimal_param,
    resolve_lsh_params,
)
from raycurator.stages.deduplication.fuzzy.minhash import MinHasher, MinHashStage, estimate_jaccard
from raycurator.stages.deduplication.fuzzy.shingles import char_ngram_jaccard

__all__ = [
    "BucketsToCandidatePairs",
    "CandidatePairTextJoin",
    "ConnectedComponentsStage",
    "FuzzyDeduplicationWorkflow",
    "JaccardVerificationStage",
    "LSHStage",
    "MinHashStage",
    "MinHasher",
    "band_bucket_ids",
    "candidate_probability",
    "char_ngram_jaccard",
    "estimate_jaccard",
    "optimal_param",
    "resolve_lsh_params",
]


def __getattr__(name: str) -> Any:
    if name == "FuzzyDeduplicationWorkflow":
        from raycurator.pipeline.fuzzy_dedup import FuzzyDeduplicationWorkflow

        return FuzzyDeduplicationWorkflow
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
