"""`ExactDeduplicationWorkflow`: identify documents with equal text, optionally remove them.

NeMo Curator 1.4's class (`stages.deduplication.exact.workflow`, where it imports from here
too) with its parameters, order and defaults; it runs pipelines, so it lives at the pipeline
layer. Two passes over the input partitions, on one executor and one Ray:

1. identification: read (text and id only) -> ids "<task_id>_<row>" in `_curator_dedup_id`
   (when the input has no `id_field`) -> hash of the text (normalised with `normalize_text`) -> shuffle
   by hash; of each hash the smallest id is kept and the others are written as Parquet under
   ``<output_path>/ExactDuplicateIds`` (columns: the id column and `_duplicate_of`);
2. removal (``perform_removal=True``): read everything again with the same partitions, so
   the same ids -> drop the listed documents -> write them under ``<output_path>/deduplicated``.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from raycurator.pipeline.dedup_workflow import DeduplicationWorkflowBase
from raycurator.stages.base import ProcessingStage
from raycurator.stages.deduplication.exact.hashing import ExactDuplicateHashStage
from raycurator.stages.deduplication.exact.identify import ExactDuplicateIdsStage
from raycurator.stages.deduplication.workflow_utils import check_filetype, join_path

logger = logging.getLogger(__name__)

DUPLICATE_IDS_DIR = "ExactDuplicateIds"

__all__ = ["DUPLICATE_IDS_DIR", "ExactDeduplicationWorkflow"]


class ExactDeduplicationWorkflow(DeduplicationWorkflowBase):
    """Exact deduplication of a JSONL or Parquet dataset (see the module docstring).

    NeMo Curator's parameters:
        output_path: where ``ExactDuplicateIds/`` and ``deduplicated/`` are written.
        input_path: a directory, glob, file or list of files (unused when `run` gets `initial_tasks`).
        input_filetype: "jsonl" or "parquet".
        input_blocksize: bytes of input files per partition (whole files; see `files_per_partition`).
        identification_batchsize: accepted; the CPU shuffle takes one partition per call.
        input_file_extensions, read_kwargs, write_kwargs: reader and writer options.
        assign_id: give documents ids when they have no `id_field` (must be True without one).
        id_field: a column of unique document ids; None assigns ids (see the module docstring).
        text_field: the column holding the text.
        normalize_text: hash the text with Unicode NFC and whitespace runs collapsed (see
            `ExactDuplicateHashStage`); False hashes it as it is.
        perform_removal: also write the deduplicated documents (NeMo Curator 1.4 only identifies).
        total_nparts: output partitions of the hash shuffle (None: one per input partition).
        rmm_pool_size, spill_memory_limit, env_vars, use_async_memory: GPU tuning; no effect.

    Keyword-only additions: `cache_path` (where the duplicate ids go instead of `output_path`),
    `output_filetype`, `files_per_partition` (instead of `input_blocksize`), `keep_assigned_ids`,
    `overwrite` (replace an earlier run's output instead of refusing to).
    """

    _label = "exact dedup"

    def __init__(
        self,
        output_path: str,
        input_path: str | list[str] | None = None,
        input_filetype: Literal["jsonl", "parquet"] = "parquet",
        input_blocksize: str | int = "2GiB",
        identification_batchsize: int = 1,
        input_file_extensions: list[str] | None = None,
        read_kwargs: dict[str, Any] | None = None,
        write_kwargs: dict[str, Any] | None = None,
        assign_id: bool = True,
        id_field: str | None = None,
        text_field: str = "text",
        normalize_text: bool = False,
        perform_removal: bool = False,
        total_nparts: int | None = None,
        rmm_pool_size: int | Literal["auto"] | None = "auto",
        spill_memory_limit: int | Literal["auto"] | None = "auto",
        env_vars: dict[str, Any] | None = None,
        use_async_memory: bool = True,
        *,
        cache_path: str | None = None,
        output_filetype: str | None = None,
        files_per_partition: int | None = None,
        keep_assigned_ids: bool = False,
        overwrite: bool = False,
    ) -> None:
        if not assign_id and id_field is None:
            raise ValueError("ExactDeduplicationWorkflow: assign_id=False needs an id_field naming unique ids")
        if identification_batchsize < 1:
            raise ValueError(f"identification_batchsize must be >= 1, got {identification_batchsize}")
        self.output_path = output_path
        self.input_path = input_path
        self.input_filetype = check_filetype(input_filetype, "input_filetype")
        self.input_blocksize = input_blocksize
        self.identification_batchsize = identification_batchsize
        self.input_file_extensions = input_file_extensions
        self.read_kwargs = dict(read_kwargs or {})
        self.write_kwargs = dict(write_kwargs or {})
        self.assign_id = assign_id
        self.id_field = id_field
        self.text_field = text_field
        self.normalize_text = normalize_text
        self.perform_removal = perform_removal
        self.total_nparts = total_nparts
        self.env_vars = env_vars
        self.cache_path = cache_path
        self.output_filetype = check_filetype(output_filetype or self.input_filetype, "output_filetype")
        self.files_per_partition = files_per_partition
        self.keep_assigned_ids = keep_assigned_ids
        self.overwrite = overwrite

    @property
    def num_partitions(self) -> int | None:
        """Output partitions of the hash shuffle (`total_nparts`)."""
        return self.total_nparts

    @property
    def duplicate_ids_path(self) -> str:
        """Directory of the duplicate-id Parquet files."""
        return join_path(self.cache_path or self.output_path, DUPLICATE_IDS_DIR)

    def identification_stages(self) -> list[ProcessingStage]:
        """Read, hash, shuffle by hash; the shuffle writes the duplicate ids itself."""
        fields = [self.text_field] + ([self.id_field] if self.id_field else [])
        return [
            *self._read_stages(fields),
            ExactDuplicateHashStage(
                text_field=self.text_field, keep_columns=[self._working_id_field], normalize=self.normalize_text
            ),
            ExactDuplicateIdsStage(
                id_field=self._working_id_field, num_partitions=self.total_nparts, output_path=self.duplicate_ids_path
            ),
        ]
