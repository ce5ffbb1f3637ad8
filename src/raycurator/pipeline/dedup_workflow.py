"""What the exact and fuzzy deduplication workflows share: input partitions, one Ray, two passes.

A workflow runs two passes over the same input, identification and (optionally) removal, each
a list of stages handed to one executor. Three things keep the distributed path cheap:

* the input files are listed and grouped into partitions once, on the driver (no partitioning
  actor per pass), and both passes start from the same `FileGroupTask`s, so the ids assigned
  to documents without an id column ("<task_id>_<row>") are the same in both passes;
* a Ray executor's cluster is connected (or an embedded Ray started) once for the whole run,
  not once per pass;
* when partitioning by block size (the default) would give fewer partitions than twice the CPUs
  that will work on them, the partitions are made smaller (whole files only), so no worker
  waits on one big partition.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from raycurator.backends.base import BaseExecutor
from raycurator.backends.report import RunReport
from raycurator.pipeline.pipeline import default_executor
from raycurator.pipeline.workflow import WorkflowBase, WorkflowRunResult
from raycurator.stages.base import ProcessingStage
from raycurator.stages.deduplication.common import CURATOR_DEDUP_ID_STR
from raycurator.stages.deduplication.removal import TextDuplicatesRemovalStage
from raycurator.stages.deduplication.workflow_utils import (
    DEDUPLICATED_DIR,
    flatten_stages,
    join_path,
    make_id_stage,
    make_reader,
    make_writer,
    parquet_row_count,
    prepare_output_dir,
    written_files,
)
from raycurator.stages.file_partitioning import FilePartitioningStage
from raycurator.tasks import FileGroupTask, Task

logger = logging.getLogger(__name__)

__all__ = ["DEDUPLICATED_DIR", "DeduplicationResult", "DeduplicationWorkflowBase", "workflow_session"]


@dataclass
class DeduplicationResult(WorkflowRunResult):
    """A dedup workflow's `WorkflowRunResult`, with its outputs as typed fields.

    `pipeline_tasks` holds the output tasks of "identification" (and "removal"); `metadata`
    holds NeMo Curator's keys (`total_time`, `num_duplicates`, `identification_time`,
    `removal_time`).
    """

    duplicate_ids_path: str = ""
    duplicate_id_files: list[str] = field(default_factory=list)
    num_duplicates: int = 0
    output_path: str | None = None
    output_files: list[str] = field(default_factory=list)
    identification_time_s: float = 0.0
    removal_time_s: float = 0.0
    #: {"identification" / "removal": the executor's `RunReport` of that pass}, for executors that keep one
    run_reports: dict[str, RunReport] = field(default_factory=dict)


@contextlib.contextmanager
def workflow_session(executor: BaseExecutor) -> Iterator[int]:
    """Hold the executor's Ray (connected or started once) for a multi-pass workflow.

    Yields the number of CPUs that will run the work: the Ray cluster's, or this machine's for
    an executor without Ray. Ray started here is stopped on exit; a Ray the caller holds stays.
    """
    # an executor of a Ray backend means that backend's module is loaded: look there, so a local
    # run does not pay for importing Ray
    pool = sys.modules.get("raycurator.backends.ray_actor_pool")
    data = sys.modules.get("raycurator.backends.ray_data")
    if pool is not None and isinstance(executor, pool.RayActorPoolExecutor):
        options = executor.options
        extra = {"connect_timeout_s": options.connect_timeout_s, "allow_insecure": options.allow_insecure_ray}
    elif data is not None and isinstance(executor, data.RayDataExecutor):
        options, extra = executor.options, {}
    else:
        yield os.cpu_count() or 1
        return
    import ray

    from raycurator.backends.ray_cluster import RayConnection

    connection = RayConnection(
        options.address, options.runtime_env, options.num_cpus, options.ray_init_kwargs, **extra
    )
    with connection:
        yield max(1, int(ray.cluster_resources().get("CPU", 1)))


def balance_partitions(partitioning: FilePartitioningStage, num_workers: int) -> list[FileGroupTask]:
    """The input's file groups; regrouped with fewer files each when there are under 2 per worker."""
    groups = partitioning.process(None)
    wanted = 2 * num_workers
    num_files = sum(len(g.data) for g in groups)
    if len(groups) >= wanted or num_files <= len(groups) or partitioning.limit is not None:
        return groups
    finer = copy.copy(partitioning)
    finer.blocksize = None
    finer.files_per_partition = max(1, num_files // wanted)
    regrouped = finer.process(None)
    logger.info(
        "input regrouped from %d into %d partition(s) of %d file(s) for %d worker(s)",
        len(groups), len(regrouped), finer.files_per_partition, num_workers,
    )
    return regrouped


class DeduplicationWorkflowBase(WorkflowBase):
    """Reading, the removal pass and `run()` of the exact and fuzzy workflows.

    Subclasses set the attributes below in `__init__` and define `duplicate_ids_path`,
    `identification_stages()` and `_label`.
    """

    _label = "dedup"
    input_path: str | list[str] | None
    input_filetype: str
    output_path: str
    output_filetype: str
    id_field: str | None
    keep_assigned_ids: bool
    perform_removal: bool
    overwrite: bool
    files_per_partition: int | None
    input_blocksize: int | str | None
    input_file_extensions: list[str] | None
    read_kwargs: dict[str, Any] | None
    write_kwargs: dict[str, Any] | None

    @property
    def duplicate_ids_path(self) -> str:
        raise NotImplementedError

    def identification_stages(self) -> list[ProcessingStage]:
        """The stages of the identification pass, from read documents to written duplicate ids."""
        raise NotImplementedError

    def _extra_output_dirs(self) -> list[str]:
        """Further directories the run writes (prepared like the others)."""
        return []

    @property
    def deduplicated_path(self) -> str:
        """Directory of the deduplicated documents."""
        return join_path(self.output_path, DEDUPLICATED_DIR)

    @property
    def _working_id_field(self) -> str:
        return self.id_field or CURATOR_DEDUP_ID_STR

    def _reader(self, fields: list[str] | None) -> tuple[FilePartitioningStage, list[ProcessingStage]]:
        """(the partitioning stage of `input_path`, the stages reading one partition and giving it ids)."""
        files_per_partition, blocksize = self.files_per_partition, self.input_blocksize
        if files_per_partition is not None:
            blocksize = None
        reader = make_reader(
            self.input_path if self.input_path is not None else ".",  # the reader stage itself takes no path
            self.input_filetype,
            fields,
            files_per_partition,
            blocksize,
            self.input_file_extensions,
            self.read_kwargs,
        )
        partitioning, *read = reader.decompose()
        assert isinstance(partitioning, FilePartitioningStage)
        return partitioning, read if self.id_field else [*read, make_id_stage(CURATOR_DEDUP_ID_STR)]

    def _read_stages(self, fields: list[str] | None) -> list[ProcessingStage]:
        return self._reader(fields)[1]

    def removal_stages(self) -> list[ProcessingStage]:
        """The stages of the removal pass, from a partition of files to the deduplicated documents."""
        return [
            *self._read_stages(None),
            TextDuplicatesRemovalStage(
                ids_to_remove_path=self.duplicate_ids_path,
                id_field=self._working_id_field,
                duplicate_id_field=self._working_id_field,
                drop_id_field=self.id_field is None and not self.keep_assigned_ids,
            ),
            make_writer(self.deduplicated_path, self.output_filetype, self.write_kwargs),
        ]

    def _execute(
        self,
        executor: BaseExecutor,
        stages: list[ProcessingStage],
        tasks: list[Task],
        what: str,
        result: DeduplicationResult,
    ) -> tuple[list[Task], float]:
        """Run one pass from `tasks` (copies: the other pass starts from the same ones)."""
        flat = flatten_stages(stages)
        logger.info("%s %s: %d stage(s): %s", self._label, what, len(flat), ", ".join(s.name for s in flat))
        start = time.perf_counter()
        try:
            outputs = executor.execute(flat, copy.deepcopy(tasks))
        finally:
            report = getattr(executor, "last_report", None)  # the Ray actor-pool and local executors keep one
            if isinstance(report, RunReport):
                result.run_reports[what] = report
        result.add_pipeline_tasks(what, outputs)
        return list(outputs or []), time.perf_counter() - start

    def run(
        self, initial_tasks: list[FileGroupTask] | None = None, executor: BaseExecutor | None = None
    ) -> DeduplicationResult:
        """Identify (and with `perform_removal`, remove) duplicates; NeMo Curator's argument order.

        `initial_tasks`: `FileGroupTask`s naming the input (instead of `input_path`).
        `executor`: default `Pipeline.run()`'s (the Ray actor-pool executor). Both passes share
        one Ray (the caller's, or one started here once and stopped at the end).
        """
        if isinstance(initial_tasks, BaseExecutor):
            raise TypeError(
                f"{type(self).__name__}.run(initial_tasks=None, executor=None) takes the executor as its second "
                "argument (NeMo Curator's order); pass it as executor=..."
            )
        if initial_tasks is not None and any(not isinstance(t, FileGroupTask) for t in initial_tasks):
            raise ValueError(f"{type(self).__name__}: initial_tasks must be FileGroupTasks naming the input files")
        if initial_tasks is None and self.input_path is None:
            raise ValueError(f"{type(self).__name__}: give input_path, or initial_tasks to run()")
        executor = executor if executor is not None else default_executor()
        result = DeduplicationResult(workflow_name=self._workflow_name, duplicate_ids_path=self.duplicate_ids_path)
        start = time.perf_counter()
        for directory in [self.duplicate_ids_path, *self._extra_output_dirs()]:
            prepare_output_dir(directory, self.overwrite)
        if self.perform_removal:
            prepare_output_dir(self.deduplicated_path, self.overwrite)
        with workflow_session(executor) as cpus:
            if initial_tasks is None:
                partitioning, _ = self._reader(None)
                # partitions by block size are split when too few; an explicit files_per_partition is kept
                initial_tasks = (
                    balance_partitions(partitioning, cpus)
                    if self.files_per_partition is None
                    else partitioning.process(None)
                )
            tasks, identify_s = self._execute(
                executor, self.identification_stages(), initial_tasks, "identification", result
            )
            result.duplicate_id_files = written_files(tasks)
            result.num_duplicates = parquet_row_count(result.duplicate_id_files)
            result.identification_time_s = identify_s
            logger.info("%s: %d duplicate document(s) in %.2fs", self._label, result.num_duplicates, identify_s)
            if self.perform_removal:
                tasks, removal_s = self._execute(executor, self.removal_stages(), initial_tasks, "removal", result)
                result.output_path = self.deduplicated_path
                result.output_files = written_files(tasks)
                result.removal_time_s = removal_s
        result.extend_metadata(
            {
                "identification_time": result.identification_time_s,
                "removal_time": result.removal_time_s,
                "num_duplicates": result.num_duplicates,
                "total_time": time.perf_counter() - start,
            }
        )
        return result

    @property
    def _workflow_name(self) -> str:
        return self._label.replace(" ", "_")
