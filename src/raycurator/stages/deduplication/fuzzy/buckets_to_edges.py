"""NeMo Curator 1.4's `BucketsToEdgesStage`: LSH bucket files in, edge files out.

Each input `FileGroupTask` names bucket files as `LSHStage` writes them (a bucket id and the
sorted list of the document ids in it). Every bucket `[a, b, c, ...]` becomes the edges
`(a, b), (b, c), ...` (consecutive members: enough to connect the bucket), written as
``<output_path>/BucketsToEdgesStage/<task_id>.parquet`` with the columns
``<document_id_field>_x`` and ``<document_id_field>_y``. `read_kwargs` and `write_kwargs` use
only `storage_options` (other keys are ignored with a warning, as in NeMo Curator).

The in-memory path of our workflows makes its candidate pairs inside the bucket shuffle
instead (`fuzzy.buckets.BucketsToCandidatePairs`).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pyarrow as pa

from raycurator.stages.base import ProcessingStage
from raycurator.stages.deduplication.common import CURATOR_DEDUP_ID_STR
from raycurator.stages.deduplication.files import (
    create_or_overwrite_dir,
    file_group_of,
    join_path,
    read_files,
    storage_options_of,
    write_parquet_atomic,
)
from raycurator.tasks import FileGroupTask

logger = logging.getLogger(__name__)

__all__ = ["BucketsToEdgesStage", "consecutive_edges"]


def consecutive_edges(lists: pa.ChunkedArray | pa.Array) -> tuple[pa.Array, pa.Array]:
    """(left, right): each member of each list paired with the next member of the same list."""
    if isinstance(lists, pa.ChunkedArray):
        lists = lists.combine_chunks() if lists.num_chunks else pa.array([], lists.type)
    values = lists.flatten()
    offsets = lists.offsets.to_numpy().astype(np.int64)
    offsets = offsets - offsets[0]  # a sliced array's offsets need not start at 0; flatten()'s values do
    starts = np.zeros(len(values) + 1, dtype=bool)
    starts[offsets] = True
    left = np.flatnonzero(~starts[1:len(values)])  # k -> k + 1 within one list
    return values.take(pa.array(left)), values.take(pa.array(left + 1))


class BucketsToEdgesStage(ProcessingStage[FileGroupTask, FileGroupTask]):
    """Edges between the documents of each LSH bucket (see the module docstring)."""

    _name = "BucketsToEdgesStage"

    def __init__(
        self,
        output_path: str,
        document_id_field: str = CURATOR_DEDUP_ID_STR,
        read_kwargs: dict[str, Any] | None = None,
        write_kwargs: dict[str, Any] | None = None,
    ) -> None:
        for kwargs in (read_kwargs, write_kwargs):
            ignored = set(kwargs or {}) - {"storage_options"}
            if ignored:
                logger.warning("BucketsToEdgesStage: %s ignored; only 'storage_options' is used", sorted(ignored))
        self.document_id_field = document_id_field
        self.read_storage_options = storage_options_of(read_kwargs) or None
        self.write_storage_options = storage_options_of(write_kwargs) or None
        self.output_path = join_path(output_path, self._name)
        create_or_overwrite_dir(self.output_path, self.write_storage_options)

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], []

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], []

    def process(self, task: FileGroupTask) -> FileGroupTask:
        task = file_group_of(task, self.name)
        read_kwargs = {"storage_options": self.read_storage_options} if self.read_storage_options else None
        table = read_files(task, self.name, "parquet", [self.document_id_field], read_kwargs)
        left, right = consecutive_edges(table.column(self.document_id_field))
        edges = pa.table({f"{self.document_id_field}_x": left, f"{self.document_id_field}_y": right})
        path = join_path(self.output_path, f"{task.task_id}.parquet")
        write_parquet_atomic(edges, path, self.write_storage_options)
        self._log_metric("num_edges", edges.num_rows)
        return FileGroupTask(
            task_id=task.task_id,
            dataset_name=f"{task.dataset_name}_edges",
            data=[path],
            _metadata={**task._metadata, "storage_options": self.write_storage_options},
            _stage_perf=list(task._stage_perf),
        )
