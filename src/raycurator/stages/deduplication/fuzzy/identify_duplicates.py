"""`IdentifyDuplicatesStage`: from documents labelled with a duplicate group to the ids to remove.

NeMo Curator 1.4's stage of the same name, on CPUs: rows `(document id, group label)` are
shuffled by group, and in each group every document but the one with the smallest id is
listed for removal, as `(document_id_field, _duplicate_of)`. Groups of one produce nothing.
The cuDF/RMM tuning parameters of NeMo Curator are accepted and have no effect.
"""

from __future__ import annotations

import logging
from typing import Literal

import pyarrow as pa

from raycurator.errors import StageInputError
from raycurator.stages.deduplication.common import CURATOR_DEDUP_ID_STR, DUPLICATE_OF_FIELD
from raycurator.stages.deduplication.exact.identify import duplicates_by_key
from raycurator.stages.deduplication.fuzzy.utils import CURATOR_FUZZY_DUPLICATE_GROUP_FIELD
from raycurator.stages.shuffle import ShuffleStage

logger = logging.getLogger(__name__)

#: Sub-folder of a fuzzy-dedup output that holds the duplicate-id files.
DUPLICATE_IDS_SUBDIR = "FuzzyDuplicateIds"

__all__ = ["DUPLICATE_IDS_SUBDIR", "IdentifyDuplicatesStage"]


class IdentifyDuplicatesStage(ShuffleStage):
    """Shuffle by `duplicate_group_field`; list all but the smallest id of each group for removal."""

    _name = "IdentifyDuplicatesStage"

    def __init__(
        self,
        duplicate_group_field: str = CURATOR_FUZZY_DUPLICATE_GROUP_FIELD,
        document_id_field: str = CURATOR_DEDUP_ID_STR,
        total_nparts: int | None = None,
        rmm_pool_size: int | Literal["auto"] | None = "auto",
        spill_memory_limit: int | Literal["auto"] | None = "auto",
        enable_statistics: bool = False,
    ) -> None:
        super().__init__(duplicate_group_field, num_partitions=total_nparts)
        self.duplicate_group_field = duplicate_group_field
        self.document_id_field = document_id_field

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [self.duplicate_group_field, self.document_id_field]

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [self.document_id_field, DUPLICATE_OF_FIELD]

    def reduce_table(self, partition_index: int, table: pa.Table) -> pa.Table | None:
        try:
            removal = duplicates_by_key(table, self.duplicate_group_field, self.document_id_field)
        except StageInputError as error:
            raise StageInputError(f"stage '{self.name}', partition {partition_index}: {error}") from error
        logger.debug("stage '%s' partition %d: %d id(s) to remove", self.name, partition_index, removal.num_rows)
        return removal if removal.num_rows else None
