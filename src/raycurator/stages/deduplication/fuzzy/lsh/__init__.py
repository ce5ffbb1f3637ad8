"""LSH banding of MinHash signatures: NeMo Curator 1.4's file-based `LSHStage` (at its path
`fuzzy.lsh.stage`) and the in-memory `InMemoryLSHStage` of our workflows."""

from raycurator.stages.deduplication.fuzzy.lsh.stage import (
    InMemoryLSHStage,
    LSHStage,
    band_bucket_ids,
    candidate_probability,
    optimal_param,
    resolve_lsh_params,
)

__all__ = [
    "InMemoryLSHStage",
    "LSHStage",
    "band_bucket_ids",
    "candidate_probability",
    "optimal_param",
    "resolve_lsh_params",
]
