"""Fuzzy deduplication on CPUs: MinHash over character n-grams, LSH buckets via the shuffle,
optional Jaccard verification, connected components."""

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
from raycurator.stages.deduplication.fuzzy.workflow import FuzzyDeduplicationWorkflow

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
