"""LSH banding of MinHash signatures (NeMo Curator 1.4's path: `fuzzy.lsh.stage.LSHStage`)."""

from raycurator.stages.deduplication.fuzzy.lsh.stage import (
    LSHStage,
    band_bucket_ids,
    candidate_probability,
    optimal_param,
    resolve_lsh_params,
)

__all__ = ["LSHStage", "band_bucket_ids", "candidate_probability", "optimal_param", "resolve_lsh_params"]
