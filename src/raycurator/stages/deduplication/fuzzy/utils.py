"""Column names of fuzzy deduplication (NeMo Curator 1.4's `fuzzy.utils` constants)."""

from raycurator.stages.deduplication.fuzzy.minhash import MINHASH_FIELD
from raycurator.stages.deduplication.fuzzy.rows import BUCKET_FIELD

#: The MinHash signature column (`MinHashStage`'s output).
CURATOR_DEFAULT_MINHASH_FIELD = MINHASH_FIELD
#: The LSH bucket id column (`LSHStage`'s output).
CURATOR_LSH_BUCKET_FIELD = BUCKET_FIELD
#: The duplicate-group (connected component) label column read by `IdentifyDuplicatesStage`.
CURATOR_FUZZY_DUPLICATE_GROUP_FIELD = "_duplicate_group_id"

__all__ = ["CURATOR_DEFAULT_MINHASH_FIELD", "CURATOR_FUZZY_DUPLICATE_GROUP_FIELD", "CURATOR_LSH_BUCKET_FIELD"]
