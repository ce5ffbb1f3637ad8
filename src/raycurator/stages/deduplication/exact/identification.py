"""NeMo Curator 1.4's `ExactDuplicateIdentification`, on CPUs: input file groups in, duplicate-id files out.

A shuffle stage (see `shuffle_utils.stage.ShuffleStage`). Map side, per input `FileGroupTask`:
read the text column (and `id_field`, or ids from the id generator actor with `assign_id=True`)
of its JSONL or Parquet files, hash each text (as it is, or lower-cased with whitespace runs
collapsed and trimmed when `normalize_text=True`, NeMo Curator's normalisation) into
`_exact_duplicate_group`, split the rows by hash. Reduce side, per partition: of each group of
equal hashes keep the smallest id and list the others, sorted, in
``<output_path>/ExactDuplicateIds/part.<partition>.parquet`` (one column: the id column; a
file for every partition). Output tasks carry `partition_index`, `num_groups` and
`num_removal_ids`. The GPU tuning parameters are accepted and have no effect.
"""

from __future__ import annotations

from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from raycurator.stages.deduplication.common import CURATOR_DEDUP_ID_STR, normalize_dedup_text, text_values
from raycurator.stages.deduplication.exact.identify import duplicates_by_key
from raycurator.stages.deduplication.files import assign_generator_ids, join_path, read_files, running_id_generator
from raycurator.stages.deduplication.shuffle_utils.stage import ShuffleStage
from raycurator.tasks import FileGroupTask

#: The column holding each document's hash while duplicates are grouped.
EXACT_DUPLICATE_GROUP_FIELD = "_exact_duplicate_group"

__all__ = ["EXACT_DUPLICATE_GROUP_FIELD", "ExactDuplicateIdentification"]


class ExactDuplicateIdentification(ShuffleStage):
    """Identify exact duplicates among the files of the incoming `FileGroupTask`s (see the module docstring)."""

    _name = "ExactDuplicateIds"

    def __init__(
        self,
        text_field: str,
        output_path: str,
        input_filetype: Literal["jsonl", "parquet"] = "parquet",
        read_kwargs: dict[str, Any] | None = None,
        write_kwargs: dict[str, Any] | None = None,
        assign_id: bool = True,
        id_field: str | None = None,
        normalize_text: bool = False,
        total_nparts: int | None = None,
        rmm_pool_size: int | Literal["auto"] | None = "auto",
        spill_memory_limit: int | Literal["auto"] | None = "auto",
        enable_statistics: bool = False,
        use_async_memory: bool = True,
    ) -> None:
        if not assign_id and id_field is None:
            raise ValueError("ExactDuplicateIdentification: id_field must be given when assign_id is False")
        if assign_id and id_field is not None:
            raise ValueError("ExactDuplicateIdentification: id_field must be None when assign_id is True")
        if input_filetype not in ("jsonl", "parquet"):
            raise ValueError(
                f"ExactDuplicateIdentification: input_filetype must be jsonl or parquet, got {input_filetype!r}"
            )
        self.text_field = text_field
        self.input_filetype = input_filetype
        self.assign_id_field = assign_id
        self.id_field = id_field if id_field is not None else CURATOR_DEDUP_ID_STR
        self.normalize_text = normalize_text
        self.id_generator: Any = None
        super().__init__(
            shuffle_on=[EXACT_DUPLICATE_GROUP_FIELD],
            total_nparts=total_nparts,
            output_path=join_path(output_path, self._name),
            read_kwargs=read_kwargs,
            write_kwargs=write_kwargs,
            rmm_pool_size=rmm_pool_size,
            spill_memory_limit=spill_memory_limit,
            enable_statistics=enable_statistics,
            use_async_memory=use_async_memory,
        )

    def setup(self, worker_metadata: Any = None) -> None:
        if not self.assign_id_field:
            self.id_generator = None
            return
        self.id_generator = running_id_generator()
        if self.id_generator is None:
            raise ValueError(
                f"stage '{self.name}': no id generator actor is running; start one with "
                "raycurator.stages.deduplication.id_generator.create_id_generator_actor() before the pipeline"
            )

    def read_task(self, task: FileGroupTask) -> pa.Table:
        columns = [self.text_field] if self.assign_id_field else [self.text_field, self.id_field]
        table = read_files(task, self.name, self.input_filetype, columns, self.read_kwargs)
        if self.assign_id_field:
            if self.id_generator is None:
                self.setup()
            table = assign_generator_ids(table, list(task.data), self.id_generator)
        if table.column(self.id_field).null_count:
            raise ValueError(
                f"stage '{self.name}': task '{task.task_id}' ({', '.join(task.data[:3])}) has documents "
                f"without an id in '{self.id_field}'"
            )
        texts = text_values(table, self.text_field)
        if self.normalize_text:
            texts = [normalize_dedup_text(t) for t in texts]
        digests = pa.array([xxhash.xxh3_128_hexdigest(t.encode("utf-8")) for t in texts], type=pa.string())
        self._log_metric("num_documents", table.num_rows)
        return pa.table({self.id_field: table.column(self.id_field), EXACT_DUPLICATE_GROUP_FIELD: digests})

    def write_partition(self, partition_index: int, table: pa.Table, dataset_name: str) -> FileGroupTask:
        removal = duplicates_by_key(table, EXACT_DUPLICATE_GROUP_FIELD, self.id_field).select([self.id_field])
        num_groups = len(pc.unique(table.column(EXACT_DUPLICATE_GROUP_FIELD))) if table.num_rows else 0
        path = self.partition_path(partition_index)
        self.write_table(removal, path)
        self._log_metric("num_removal_ids", removal.num_rows)
        return FileGroupTask(
            task_id=f"{self.name}-partition-{partition_index:05d}",
            dataset_name=f"{dataset_name}_{self.name}",
            data=[path],
            _metadata={
                "partition_index": partition_index,
                "num_groups": num_groups,
                "num_removal_ids": removal.num_rows,
            },
        )
