"""NeMo Curator 1.4's `ShuffleStage`, on CPUs: files in, rows repartitioned by key, files out.

Each input `FileGroupTask` names Parquet files; their rows are hash-partitioned on the
`shuffle_on` columns into `total_nparts` partitions (None: one per input task), so that rows
with equal keys meet in one partition, and each partition is written as
``<output_path>/part.<partition>.parquet`` (every partition gets a file, empty or not). The
stage emits one `FileGroupTask` per partition, with `partition_index`, `total_partitions` and
`output_columns` in its metadata.

It is a subclass of the in-memory hash shuffle (`raycurator.stages.shuffle.ShuffleStage`), so
the backends run it the same way: map (read and split each input) and reduce (one partition)
on the actor pool, or all at once as a barrier elsewhere. Subclasses change what is read
(`read_task`) and what a partition becomes (`write_partition`), as `IdentifyDuplicatesStage`
and `ExactDuplicateIdentification` do. The GPU tuning parameters (`rmm_pool_size`,
`spill_memory_limit`, `enable_statistics`, `use_async_memory`) are accepted and have no effect.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pyarrow as pa

from raycurator.stages.deduplication.files import (
    create_or_overwrite_dir,
    file_group_of,
    join_path,
    read_files,
    storage_options_of,
    write_parquet_atomic,
)
from raycurator.stages.shuffle import ShuffleStage as HashShuffleStage
from raycurator.stages.shuffle import hash_partition_ids
from raycurator.tasks import FileGroupTask, Task

__all__ = ["ShuffleStage"]


class ShuffleStage(HashShuffleStage):
    """Repartition the rows of Parquet files by `shuffle_on` and write one file per partition."""

    _name = "ShuffleStage"
    # Not registered under its bare class name: "ShuffleStage" in pipeline files keeps naming the
    # in-memory shuffle it extends (subclasses register as usual).
    _is_abstract_root = True

    def __init__(
        self,
        shuffle_on: list[str],
        total_nparts: int | None = None,
        output_path: str = "./",
        read_kwargs: dict[str, Any] | None = None,
        write_kwargs: dict[str, Any] | None = None,
        rmm_pool_size: int | Literal["auto"] | None = "auto",
        spill_memory_limit: int | Literal["auto"] | None = "auto",
        enable_statistics: bool = False,
        use_async_memory: bool = True,
    ) -> None:
        super().__init__(shuffle_on=list(shuffle_on), total_nparts=total_nparts)
        self.shuffle_on = list(shuffle_on)
        self.total_nparts = total_nparts
        self.output_path = output_path
        self.read_kwargs = dict(read_kwargs or {})
        self.write_kwargs = dict(write_kwargs or {})
        self.rmm_pool_size = rmm_pool_size
        self.spill_memory_limit = spill_memory_limit
        self.enable_statistics = enable_statistics
        self.use_async_memory = use_async_memory
        create_or_overwrite_dir(self.output_path, storage_options_of(self.write_kwargs))

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], []

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], []

    # -- hooks ------------------------------------------------------------------------------------
    def read_task(self, task: FileGroupTask) -> pa.Table:
        """The rows one input contributes to the shuffle (here: every column of its Parquet files)."""
        return read_files(task, self.name, "parquet", read_kwargs=self.read_kwargs)

    def write_partition(self, partition_index: int, table: pa.Table, dataset_name: str) -> FileGroupTask:
        """Write one complete partition; the default writes its rows as they are."""
        path = self.partition_path(partition_index)
        self.write_table(table, path)
        return FileGroupTask(
            task_id=f"{self.name}-partition-{partition_index:05d}",
            dataset_name=f"{dataset_name}{self.name}",
            data=[path],
            _metadata={
                "partition_index": partition_index,
                "total_partitions": self._total_partitions,
                "output_columns": table.column_names,
            },
        )

    # -- helpers ----------------------------------------------------------------------------------
    def partition_path(self, partition_index: int) -> str:
        """``<output_path>/part.<partition_index>.parquet``."""
        return join_path(self.output_path, f"part.{partition_index}.parquet")

    def write_table(self, table: pa.Table, path: str) -> None:
        """Write `table` atomically with this stage's `write_kwargs`."""
        kwargs = dict(self.write_kwargs)
        storage_options = kwargs.pop("storage_options", None)
        write_parquet_atomic(table, path, storage_options, **kwargs)

    # -- the two halves of the shuffle ------------------------------------------------------------
    def partition(self, task: Task, num_partitions: int) -> list[pa.Table]:
        table = self.read_task(file_group_of(task, self.name))
        missing = [c for c in self.shuffle_on if c not in table.column_names]
        if missing:
            raise ValueError(
                f"stage '{self.name}': task '{task.task_id}' ({', '.join(task.data[:3])}) lacks shuffle "
                f"column(s) {missing}; it has {table.column_names}"
            )
        ids = hash_partition_ids(table, self.shuffle_on, num_partitions)
        order = np.argsort(ids, kind="stable")
        bounds = np.searchsorted(ids[order], np.arange(num_partitions + 1))
        ordered = table.take(pa.array(order))
        return [ordered.slice(bounds[i], bounds[i + 1] - bounds[i]) for i in range(num_partitions)]

    def merge(self, partition_index: int, tables: list[pa.Table], dataset_name: str) -> FileGroupTask | None:
        if not tables:
            return None
        # every input sends a piece to every partition, and the default count is one per input
        self._total_partitions = self.resolve_num_partitions(len(tables))
        table = pa.concat_tables(tables, promote_options="default")
        return self.write_partition(partition_index, table, dataset_name)

    def process(self, task: Task) -> list[FileGroupTask]:
        return self.process_batch([task])

    def process_batch(self, tasks: list[Task]) -> list[FileGroupTask]:
        if not tasks:
            return []
        n = self.resolve_num_partitions(len(tasks))
        pieces = [self.partition(task, n) for task in tasks]
        outputs = []
        for index in range(n):
            merged = self.merge(index, [p[index] for p in pieces], tasks[0].dataset_name)
            if merged is not None:
                outputs.append(merged)
        return outputs
