"""`BucketsToEdgesStage`: LSH buckets to duplicate-candidate edges (NeMo Curator 1.4's path).

Here the edges come out of the bucket shuffle itself: `BucketsToCandidatePairs` groups bucket
rows by bucket and emits the distinct pairs of each bucket (all pairs for small buckets, pairs
with a few anchors for large ones). This class is that stage under NeMo Curator's name and
parameter (`document_id_field`); its edge rows are `(document_id_field, _pair_id)`.
"""

from __future__ import annotations

from raycurator.stages.deduplication.common import CURATOR_DEDUP_ID_STR
from raycurator.stages.deduplication.fuzzy.buckets import BucketsToCandidatePairs

__all__ = ["BucketsToEdgesStage"]


class BucketsToEdgesStage(BucketsToCandidatePairs):
    """Candidate edges between documents sharing an LSH bucket (see the module docstring)."""

    _name = "BucketsToEdgesStage"

    def __init__(
        self,
        document_id_field: str = CURATOR_DEDUP_ID_STR,
        all_pairs_max_size: int = 16,
        num_anchors: int = 2,
        num_partitions: int | None = None,
    ) -> None:
        super().__init__(
            id_field=document_id_field,
            all_pairs_max_size=all_pairs_max_size,
            num_anchors=num_anchors,
            num_partitions=num_partitions,
        )
        self.document_id_field = document_id_field
