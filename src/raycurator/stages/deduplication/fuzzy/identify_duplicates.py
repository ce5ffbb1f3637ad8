"""NeMo Curator 1.4's `IdentifyDuplicatesStage`: documents labelled with a duplicate group in, ids to remove out.

A file-based shuffle (`shuffle_utils.stage.ShuffleStage`): the rows `(document_id_field,
duplicate_group_field)` of the input files (as `ConnectedComponentsStage` writes them) are
shuffled by group into `total_nparts` partitions (None: one per input task); in each group
every document but the one with the smallest id is listed for removal (NeMo Curator keeps an
arbitrary one), sorted, in ``<output_path>/FuzzyDuplicateIds/part.<partition>.parquet`` (one
column, `document_id_field`; a file for every partition). Output tasks carry
`partition_index`, `num_groups` and `num_removal_ids`. The GPU tuning parameters have no effect.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc

from raycurator.stages.deduplication.common import CURATOR_DEDUP_ID_STR
from raycurator.stages.deduplication.exact.identify import duplicates_by_key
from raycurator.stages.deduplication.files import join_path, read_files
from raycurator.stages.deduplication.fuzzy.utils import CURATOR_FUZZY_DUPLICATE_GROUP_FIELD
from raycurator.stages.deduplication.shuffle_utils.stage import ShuffleStage
from raycurator.tasks import FileGroupTask

logger = logging.getLogger(__name__)

#: Sub-folder of a fuzzy-dedup output that holds the duplicate-id files.
DUPLICATE_IDS_SUBDIR = "FuzzyDuplicateIds"

__all__ = ["DUPLICATE_IDS_SUBDIR", "IdentifyDuplicatesStage"]


class IdentifyDuplicatesStage(ShuffleStage):
    """Shuffle by `duplicate_group_field`; list all but the smallest id of each group (see the module docstring)."""

    _name = "IdentifyDuplicates"

    def __init__(
        self,
        duplicate_group_field: str = CURATOR_FUZZY_DUPLICATE_GROUP_FIELD,
        document_id_field: str = CURATOR_DEDUP_ID_STR,
        total_nparts: int | None = None,
        output_path: str = "./",
        read_kwargs: dict[str, Any] | None = None,
        write_kwargs: dict[str, Any] | None = None,
        rmm_pool_size: int | Literal["auto"] | None = "auto",
        spill_memory_limit: int | Literal["auto"] | None = "auto",
        enable_statistics: bool = False,
    ) -> None:
        self.duplicate_group_field = duplicate_group_field
        self.document_id_field = document_id_field
        super().__init__(
            shuffle_on=[duplicate_group_field],
            total_nparts=total_nparts,
            output_path=join_path(output_path, DUPLICATE_IDS_SUBDIR),
            read_kwargs=read_kwargs,
            write_kwargs=write_kwargs,
            rmm_pool_size=rmm_pool_size,
            spill_memory_limit=spill_memory_limit,
            enable_statistics=enable_statistics,
        )

    def read_task(self, task: FileGroupTask) -> pa.Table:
        columns = [self.document_id_field, self.duplicate_group_field]
        return read_files(task, self.name, "parquet", columns, self.read_kwargs)

    def write_partition(self, partition_index: int, table: pa.Table, dataset_name: str) -> FileGroupTask:
        removal = duplicates_by_key(table, self.duplicate_group_field, self.document_id_field)
        removal = removal.select([self.document_id_field])
        num_groups = len(pc.unique(table.column(self.duplicate_group_field))) if table.num_rows else 0
        path = self.partition_path(partition_index)
        self.write_table(removal, path)
        self._log_metric("num_removal_ids", removal.num_rows)
        logger.debug("stage '%s' partition %d: %d id(s) to remove", self.name, partition_index, removal.num_rows)
        return FileGroupTask(
            task_id=f"{self.name}-partition-{partition_index:05d}",
            dataset_name=f"{dataset_name}{self.name}",
            data=[path],
            _metadata={
                "partition_index": partition_index,
                "num_groups": num_groups,
                "num_removal_ids": removal.num_rows,
            },
        )
