"""`ExactDeduplicationWorkflow`: identify documents with equal normalised text, optionally remove them.

Two passes over the input, each a plain list of stages run by any executor:

1. identification: read (text and id only) -> assign ids (when the input has none) ->
   hash the normalised text -> shuffle by hash, keep the smallest id per hash -> write the
   duplicate ids as Parquet under ``<output_path>/ExactDuplicateIds``;
2. removal (``perform_removal=True``): read everything again -> the same ids -> drop the
   listed duplicates -> write the deduplicated documents under ``<output_path>/deduplicated``.

Assigned ids are ``"<task_id>_<row>"``; they are stable because both passes read the input
with the same options. The duplicate-id files list `id_field` (the duplicate) and
`_duplicate_of` (the document kept in its place).
"""

from __future__ import annotations

import logging
from typing import Any

from raycurator.stages.base import ProcessingStage
from raycurator.stages.deduplication.exact.hashing import ExactDuplicateHashStage
from raycurator.stages.deduplication.exact.identify import ExactDuplicateIdsStage
from raycurator.stages.deduplication.workflow_utils import (
    DeduplicationWorkflowBase,
    check_filetype,
    join_path,
    make_writer,
)

logger = logging.getLogger(__name__)

DUPLICATE_IDS_DIR = "ExactDuplicateIds"


class ExactDeduplicationWorkflow(DeduplicationWorkflowBase):
    """Exact deduplication of a JSONL or Parquet dataset (see the module docstring).

    Args:
        input_path: a directory, glob, file or list of files (local paths or fsspec URLs).
        output_path: where ``ExactDuplicateIds/`` and ``deduplicated/`` are written.
        cache_path: where the duplicate-id lists go instead of `output_path`, when given.
        input_filetype: "jsonl" or "parquet"; `output_filetype` defaults to it.
        text_field: the column holding the text.
        id_field: a column of unique document ids; None assigns ``"<task_id>_<row>"`` ids
            (kept in the output as `_curator_dedup_id` only with `keep_assigned_ids`).
        perform_removal: also write the deduplicated documents; False only identifies.
        input_blocksize, files_per_partition, input_file_extensions, read_kwargs: reader options
            (one file per partition by default).
        write_kwargs: options of the output writer.
        num_partitions: output partitions of the hash shuffle (None: one per input partition).
        overwrite: replace the output of an earlier run instead of refusing to.
    """

    _label = "exact dedup"

    def __init__(
        self,
        input_path: str | list[str],
        output_path: str,
        cache_path: str | None = None,
        input_filetype: str = "jsonl",
        text_field: str = "text",
        id_field: str | None = None,
        perform_removal: bool = True,
        output_filetype: str | None = None,
        input_blocksize: int | str | None = None,
        files_per_partition: int | None = None,
        input_file_extensions: list[str] | None = None,
        read_kwargs: dict[str, Any] | None = None,
        write_kwargs: dict[str, Any] | None = None,
        num_partitions: int | None = None,
        keep_assigned_ids: bool = False,
        overwrite: bool = False,
    ) -> None:
        self.input_path = input_path
        self.output_path = output_path
        self.cache_path = cache_path
        self.input_filetype = check_filetype(input_filetype, "input_filetype")
        self.output_filetype = check_filetype(output_filetype or self.input_filetype, "output_filetype")
        self.text_field = text_field
        self.id_field = id_field
        self.perform_removal = perform_removal
        self.input_blocksize = input_blocksize
        self.files_per_partition = files_per_partition
        self.input_file_extensions = input_file_extensions
        self.read_kwargs = dict(read_kwargs or {})
        self.write_kwargs = dict(write_kwargs or {})
        self.num_partitions = num_partitions
        self.keep_assigned_ids = keep_assigned_ids
        self.overwrite = overwrite

    @property
    def duplicate_ids_path(self) -> str:
        """Directory of the duplicate-id Parquet files."""
        return join_path(self.cache_path or self.output_path, DUPLICATE_IDS_DIR)

    def identification_stages(self) -> list[ProcessingStage]:
        """The stages of the identification pass (reading to writing the duplicate ids)."""
        fields = [self.text_field] + ([self.id_field] if self.id_field else [])
        return [
            *self._read_stages(fields),
            ExactDuplicateHashStage(text_field=self.text_field, keep_columns=[self._working_id_field]),
            ExactDuplicateIdsStage(id_field=self._working_id_field, num_partitions=self.num_partitions),
            make_writer(self.duplicate_ids_path, "parquet"),
        ]
