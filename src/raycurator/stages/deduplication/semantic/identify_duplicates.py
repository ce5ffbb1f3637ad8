"""`IdentifyDuplicatesStage`: the ids whose best earlier match reaches ``1 - eps``, from pairwise output."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from raycurator.stages.base import ProcessingStage
from raycurator.stages.deduplication.semantic.utils import write_parquet_atomic
from raycurator.stages.deduplication.workflow_utils import join_path
from raycurator.stages.text.io._fs import url_to_fs
from raycurator.tasks import FileGroupTask

logger = logging.getLogger(__name__)


@dataclass
class IdentifyDuplicatesStage(ProcessingStage[FileGroupTask, FileGroupTask]):
    """Reads up to 10 clusters' pairwise files per call; writes their duplicate ids (column `id`,
    sorted) as one Parquet file under `output_path`, named by a hash of its inputs."""

    output_path: str
    eps: float
    _num_row_groups_hint: int | None = None
    verbose: bool = False
    read_kwargs: dict[str, Any] | None = None
    write_kwargs: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= float(self.eps) < 1.0:
            raise ValueError(f"eps must lie in [0, 1), got {self.eps}")
        self.read_kwargs = dict(self.read_kwargs or {})
        self.write_kwargs = dict(self.write_kwargs or {})
        for key in ("filters", "columns"):
            if key in self.read_kwargs:
                raise ValueError(f"read_kwargs must not hold '{key}'")
        for key in ("index", "row_group_size"):
            if key in self.write_kwargs:
                raise ValueError(f"write_kwargs must not hold '{key}'")
        self._num_row_groups_hint = self._num_row_groups_hint or 10
        self._name = "IdentifyDuplicatesStage"
        self._batch_size = 10

    def process(self, task: FileGroupTask) -> list[FileGroupTask]:
        return self.process_batch([task])

    def _read(self, path: str) -> pa.Table:
        options = dict(self.read_kwargs or {})
        storage_options = options.pop("storage_options", None)
        fs, local = url_to_fs(path, storage_options)
        with fs.open(local, "rb") as handle:
            table = pq.read_table(handle, columns=["id", "cosine_sim_score"], **options)
        scores = table.column("cosine_sim_score").cast(pa.float64())
        return table.filter(pc.greater_equal(scores, 1.0 - float(self.eps))).select(["id"])

    def process_batch(self, tasks: list[FileGroupTask]) -> list[FileGroupTask]:
        for task in tasks:
            self.validate_input(task)
        files = [f for task in tasks for f in task.data]
        if not tasks:
            return []
        if not files:
            self._log_metric("num_removed", 0)
            return []
        tables = [self._read(f) for f in files]
        table = pa.concat_tables(tables) if tables else pa.table({"id": pa.array([], pa.string())})
        if table.num_rows:
            table = table.take(pc.sort_indices(table, sort_keys=[("id", "ascending")]))
        digest = hashlib.sha1("\n".join(sorted(files)).encode()).hexdigest()[:16]
        output = join_path(self.output_path, f"{digest}.parquet")
        options = dict(self.write_kwargs or {})
        options["row_group_size"] = max(1, table.num_rows // int(self._num_row_groups_hint or 10))
        write_parquet_atomic(table, output, options)
        self._log_metric("num_removed", table.num_rows)
        # one output for many clusters: keep each input's record of the stage before (its pairwise
        # figures), so per-cluster metrics survive this fan-in
        stage_perf = list(tasks[0]._stage_perf)
        stage_perf.extend(task._stage_perf[-1] for task in tasks[1:] if task._stage_perf)
        return [
            FileGroupTask(
                task_id=f"duplicates_{digest}",
                dataset_name=tasks[0].dataset_name,
                data=[output],
                _stage_perf=stage_perf,
                _metadata={**tasks[0]._metadata, "num_removed": table.num_rows, "source_files": files},
            )
        ]
