"""Fuzzy deduplication on CPUs: MinHash over character n-grams, LSH buckets via the shuffle,
optional Jaccard verification, connected components.

Two sets of stages: NeMo Curator 1.4's file-based ones at its paths (`MinHashStage`,
`LSHStage`, `BucketsToEdgesStage`, `ConnectedComponentsStage`, `IdentifyDuplicatesStage`: each
reads the files its input task names and writes Parquet under its `output_path`), and the
in-memory ones our workflows chain on `DocumentBatch`es (`InMemoryMinHashStage`,
`InMemoryLSHStage`, `BucketsToCandidatePairs`, `InMemoryConnectedComponentsStage`).

Names are loaded on first access (a worker imports only what its stage needs, e.g. no SciPy for
MinHash); `FuzzyDeduplicationWorkflow` comes from the pipeline layer.
"""

from typing import Any

_WHERE = {
    "BucketsToCandidatePairs": "buckets",
    "BucketsToEdgesStage": "buckets_to_edges",
    "IdentifyDuplicatesStage": "identify_duplicates",
    "InMemoryConnectedComponentsStage": "connected_components",
    "InMemoryLSHStage": "lsh.stage",
    "InMemoryMinHashStage": "minhash",
    "CandidatePairTextJoin": "jaccard",
    "ConnectedComponentsStage": "connected_components",
    "JaccardVerificationStage": "jaccard",
    "LSHStage": "lsh.stage",
    "MinHashStage": "minhash",
    "MinHasher": "minhash",
    "band_bucket_ids": "lsh.stage",
    "candidate_probability": "lsh.stage",
    "char_ngram_jaccard": "shingles",
    "estimate_jaccard": "minhash",
    "optimal_param": "lsh.stage",
    "resolve_lsh_params": "lsh.stage",
}

__all__ = [
    "BucketsToCandidatePairs",
    "BucketsToEdgesStage",
    "CandidatePairTextJoin",
    "ConnectedComponentsStage",
    "FuzzyDeduplicationWorkflow",
    "IdentifyDuplicatesStage",
    "InMemoryConnectedComponentsStage",
    "InMemoryLSHStage",
    "InMemoryMinHashStage",
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
    if name in _WHERE:  # loaded on first use: a worker running one stage imports only that stage's module
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    if name == "FuzzyDeduplicationWorkflow":
        from raycurator.pipeline.fuzzy_dedup import FuzzyDeduplicationWorkflow

        return FuzzyDeduplicationWorkflow
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
