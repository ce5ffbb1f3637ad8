"""RayActorPoolExecutor: runs a pipeline on pools of Ray actors, streaming by default."""

from __future__ import annotations

import dataclasses
import logging
import os
import time
import uuid
from pathlib import Path
from typing import Any

import ray

from raycurator.backends.base import BaseExecutor, effective_batch_size, starting_tasks
from raycurator.backends.checkpoint import CheckpointStore, partition_key
from raycurator.backends.failures import FailureLedger
from raycurator.backends.outputs import RunOutputs
from raycurator.backends.progress import ProgressReporter
from raycurator.backends.ray_actor_pool.adapter import task_meta
from raycurator.backends.ray_actor_pool.config import ActorPoolConfig
from raycurator.backends.ray_actor_pool.driver_source import DriverSource
from raycurator.backends.ray_actor_pool.fusion import PlannedStage, plan_stages
from raycurator.backends.ray_actor_pool.runtime import PoolRuntime
from raycurator.backends.ray_actor_pool.scheduling.capacity import NodeCapacity
from raycurator.backends.ray_actor_pool.scheduling.items import Item, StageKind
from raycurator.backends.ray_actor_pool.scheduling.lineage import LineageTracker
from raycurator.backends.ray_actor_pool.scheduling.operators import StageSpec
from raycurator.backends.ray_actor_pool.scheduling.policy import POLICIES
from raycurator.backends.ray_actor_pool.scheduling.scheduler import SchedulerConfig, StreamingScheduler
from raycurator.backends.ray_cluster import ClusterNode, RayConnection, alive_nodes, ray_gpus, run_setup_on_nodes
from raycurator.backends.report import RunReport
from raycurator.backends.report_html import write_report_html
from raycurator.backends.run_folder import RunFolder
from raycurator.errors import InsufficientResourcesError, PipelineConfigError
from raycurator.stages.base import ProcessingStage, RayStageSpecKeys
from raycurator.tasks import Task
from raycurator.utils.startup import RunPhase, StartupTimeline, process_start_time

logger = logging.getLogger(__name__)

DEFAULT_LOG_DIR = "raycurator_runs"


class RayActorPoolExecutor(BaseExecutor):
    """Runs stages on pools of Ray actors.

    Streaming (default): every stage's pool lives for the whole run and a task moves on as soon
    as it is produced, so stages overlap; payloads stay in Ray's object store and the driver
    sees only references and small metadata. Output order is not guaranteed.
    `mode="stage_by_stage"` runs one stage at a time instead.
    """

    def __init__(
        self, config: dict[str, Any] | None = None, ignore_head_node: bool = False, show_progress: bool = True
    ) -> None:
        super().__init__(config)
        self.options = ActorPoolConfig.from_dict(self.config)
        self.ignore_head_node = ignore_head_node
        self.show_progress = show_progress
        self.last_report: RunReport | None = None
        self._from_process_start = False

    def measure_from_process_start(self, enabled: bool = True) -> None:
        """Count the start-up breakdown of the next runs from this process's start (the CLI's
        case: one run per process) instead of from the call to `execute`."""
        self._from_process_start = enabled

    def execute_with_checkpoint(
        self, stages: list[ProcessingStage], initial_tasks: list[Task] | None, checkpoint_path: str
    ) -> list[Task]:
        """`execute` with `checkpoint_dir=checkpoint_path` for this run only."""
        configured = self.options
        self.options = dataclasses.replace(configured, checkpoint_dir=str(checkpoint_path))
        try:
            return self.execute(stages, initial_tasks)
        finally:
            self.options = configured

    # -- set-up helpers ---------------------------------------------------------------------------
    def _plan(self, stages: list[ProcessingStage], starts_from_source: bool) -> list[PlannedStage]:
        """The steps of the run: consecutive compatible map stages fused (streaming mode)."""
        fuse = POLICIES[self.options.mode].fuses_stages and self.options.fuse_stages
        return plan_stages(stages, fuse, starts_from_source, self.options.stage_on_error)

    def _spec(self, planned: PlannedStage) -> StageSpec:
        lead = planned.lead
        ray_spec = lead.ray_stage_spec()
        on_error = self.options.stage_on_error.get(lead.name) or ray_spec.get(RayStageSpecKeys.ON_ERROR)
        return StageSpec(
            name=planned.name,
            cpus=float(lead.resources.cpus),
            gpus=ray_gpus(lead),
            batch_size=effective_batch_size(lead),
            max_workers=planned.num_workers(),
            on_error=on_error or self.options.on_error,
            max_task_retries=int(ray_spec.get(RayStageSpecKeys.MAX_TASK_RETRIES, self.options.max_task_retries)),
            kind=planned.kind,
            num_partitions=getattr(lead, "num_partitions", None) if planned.kind is StageKind.SHUFFLE else None,
            member_names=tuple(m.name for m in planned.members) if planned.fused else (),
        )

    def _capacities(self, nodes: list[ClusterNode]) -> list[NodeCapacity]:
        capacities = [NodeCapacity(n.node_id, n.cpus, n.gpus) for n in nodes]
        cpus_left, gpus_left = self.options.reserved_cpus, self.options.reserved_gpus
        for capacity in capacities:  # head node first (alive_nodes sorts it first)
            take_cpus, take_gpus = min(cpus_left, capacity.cpus), min(gpus_left, capacity.gpus)
            capacity.cpus -= take_cpus
            capacity.gpus -= take_gpus
            cpus_left -= take_cpus
            gpus_left -= take_gpus
        usable = [c for c in capacities if c.cpus > 0 or c.gpus > 0]
        if not usable:
            raise InsufficientResourcesError(
                f"no CPUs or GPUs left after reserved_cpus={self.options.reserved_cpus}, "
                f"reserved_gpus={self.options.reserved_gpus} on nodes "
                f"{[(n.node_id[:12], n.cpus, n.gpus) for n in nodes]}"
            )
        return usable

    def _run_dir(self) -> Path:
        base = self.options.log_dir or os.environ.get("RAYCURATOR_LOG_DIR") or DEFAULT_LOG_DIR
        run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]
        self._run_folder = RunFolder.create(base, run_id)  # object storage: staged here, uploaded at the end
        return self._run_folder.local

    # -- the run ------------------------------------------------------------------------------------
    def execute(self, stages: list[ProcessingStage], initial_tasks: list[Task] | None = None) -> list[Task]:
        """Run `stages` over `initial_tasks` (default: the empty start token)."""
        if not stages:
            raise PipelineConfigError("RayActorPoolExecutor.execute needs at least one stage")
        outputs = RunOutputs(stages)  # refuses writers into input folders before anything starts
        source = DriverSource.for_run(stages, initial_tasks, self.options.source_on_driver)
        pool_stages = stages[1:] if source is not None else stages  # what runs on actors
        from_source = initial_tasks is None and source is None  # partitions come out of the first pool stage
        tasks = starting_tasks(initial_tasks)
        planned = self._plan(pool_stages, starts_from_source=from_source)
        specs = [self._spec(stage) for stage in planned]
        run_dir = self._run_dir()
        report = RunReport(
            run_id=run_dir.name, executor=type(self).__name__, mode=self.options.mode,
            log_dir=self._run_folder.location,
        )
        self.last_report = report
        timeline = StartupTimeline()
        started = process_start_time() if self._from_process_start else None
        if started is not None:
            timeline.mark(RunPhase.PROCESS_START, started)
        timeline.mark(RunPhase.RUN_START, report.started_at)
        ledger = FailureLedger(run_dir / "failures.jsonl")
        results: list[Task] = []
        scheduler: StreamingScheduler | None = None
        try:
            if source is not None:
                report.stages = [source.counters]
                source.start(ledger)  # lists the inputs while Ray starts
            with RayConnection(
                self.options.address,
                self.options.runtime_env,
                self.options.num_cpus,
                self.options.ray_init_kwargs,
                connect_timeout_s=self.options.connect_timeout_s,
                allow_insecure=self.options.allow_insecure_ray,
            ) as connection:
                timeline.mark(RunPhase.RAY_CONNECTED)
                timeline.ray_started_here = connection.started_here
                nodes = alive_nodes(self.ignore_head_node)
                if not nodes:
                    raise InsufficientResourcesError(
                        "no alive node to run on"
                        + (" besides the head node (ignore_head_node=True)" if self.ignore_head_node else "")
                    )
                if source is not None:
                    tasks = source.result()
                checkpoint = self._checkpoint(stages)
                outputs.open(resuming=checkpoint is not None and bool(checkpoint.done))
                scheduler = StreamingScheduler(
                    specs,
                    self._capacities(nodes),
                    SchedulerConfig(
                        mode=self.options.mode,
                        queue_limit_items=self.options.queue_limit_items,
                        queue_limit_bytes=self.options.queue_limit_bytes,
                        pipeline_depth=self.options.pipeline_depth,
                        keep_results=self.options.return_results,
                    ),
                    # lineage serves checkpoints and the recomputation of data lost with a node
                    lineage=LineageTracker(
                        checkpoint.done if checkpoint is not None else set(),
                        lambda item: partition_key(item.meta.task_id, item.meta.source_files),
                    ),
                    partitions_from_first_stage=from_source,
                    on_partition_finished=None if checkpoint is None else checkpoint.record,
                    clock=time.time,  # wall-clock stage windows line up with the run's start in reports
                )
                report.stages = ([source.counters] if source is not None else []) + scheduler.counters
                report.note_side_outputs(stages)
                if checkpoint is not None:
                    report.extra["checkpoint"] = self._checkpoint_figures(checkpoint, scheduler)
                run_setup_on_nodes(pool_stages, nodes)
                timeline.mark(RunPhase.NODES_READY)
                progress = ProgressReporter(
                    self.show_progress,
                    self.options.progress_interval_s,
                    leading_rows=[source.progress_row()] if source is not None else None,
                )
                runtime = PoolRuntime(
                    planned,
                    scheduler,
                    self.options.runtime_env,
                    progress,
                    self.options.teardown_timeout_s,
                    run_id=run_dir.name,
                    on_skipped=ledger.record,  # the ledger is written as failures happen
                    node_setup_stages=pool_stages,
                    ignore_head_node=self.ignore_head_node,
                    known_nodes=[n.node_id for n in nodes],
                    stall_timeout_s=self.options.stall_timeout_s,
                )
                try:
                    runtime.run(self._initial_items(tasks, specs[0].batch_size))
                    if self.options.return_results and scheduler.fatal is None:
                        results = runtime.fetch_results()
                finally:
                    runtime.shutdown()
                    timeline.mark(RunPhase.ACTORS_STOPPED)
                    progress.close(scheduler.snapshot())
                if checkpoint is not None:
                    report.extra["checkpoint"] = self._checkpoint_figures(checkpoint, scheduler)
                if runtime.nodes_lost or runtime.nodes_added or runtime.nodes_refused:
                    report.extra["nodes"] = {
                        "lost": runtime.nodes_lost,
                        "added": runtime.nodes_added,
                        "refused": runtime.nodes_refused,
                        "partitions_recomputed": scheduler.recomputed_partitions,
                        "results_discarded": scheduler.results_discarded,
                    }
                if scheduler.fatal is not None:
                    raise scheduler.fatal.to_error()
            timeline.mark(RunPhase.RAY_RELEASED)
            outputs.close(succeeded=True)
            report.succeeded()
        except BaseException as error:
            outputs.close(succeeded=False)
            report.failed(error)
            raise
        finally:
            report.finished_at = time.time()
            self._note_startup(report, timeline, source)
            if scheduler is not None:
                report.extra["actors_started_total"] = scheduler.actors_requested
            if ledger.count or ledger.records:
                report.failure_ledger = self._run_folder.location_of(ledger.path)
            if ledger.count:
                logger.warning("%d task(s) failed and were skipped; see %s", ledger.count, ledger.path)
            if ledger.records:
                logger.warning("%d input record(s) were skipped; see %s", ledger.records, ledger.path)
            try:
                report.write(run_dir)
                write_report_html(run_dir, report.to_dict())
            except OSError as error:
                logger.warning("could not write the run report to %s: %s", run_dir, error)
            self._run_folder.publish()
        return results

    @staticmethod
    def _note_startup(report: RunReport, timeline: StartupTimeline, source: DriverSource | None) -> None:
        """Put the run's start-up timeline into the report (`extra.startup`); rows are the actors'
        (a source stage that ran in the driver did so while Ray started)."""
        on_actors = [c for c in report.stages if source is None or c is not source.counters]
        starts = [c.first_start for c in on_actors if c.first_start is not None]
        ends = [c.last_end for c in on_actors if c.last_end is not None]
        if starts and ends:
            timeline.mark(RunPhase.FIRST_ROW, min(starts))
            timeline.mark(RunPhase.LAST_ROW, max(ends))
        timeline.mark(RunPhase.RAY_RELEASED, report.finished_at)
        timeline.mark(RunPhase.RUN_END, report.finished_at)
        report.extra["startup"] = timeline.to_dict()

    def _checkpoint(self, stages: list[ProcessingStage]) -> CheckpointStore | None:
        if not self.options.checkpoint_dir:
            return None
        return CheckpointStore(self.options.checkpoint_dir, stages, self.options.checkpoint_start_over)

    @staticmethod
    def _checkpoint_figures(checkpoint: CheckpointStore, scheduler: StreamingScheduler) -> dict[str, Any]:
        lineage = scheduler.lineage
        return {
            "directory": str(checkpoint.directory),
            "partitions_seen": lineage.total if lineage else 0,
            "partitions_skipped": lineage.skipped if lineage else 0,
            "partitions_finished": checkpoint.recorded,
            "partitions_done_total": len(checkpoint.done),
        }

    @staticmethod
    def _initial_items(tasks: list[Task], chunk: int) -> list[Item]:
        """The run's input tasks in the object store, one object per first-stage batch."""
        items = []
        for start in range(0, len(tasks), max(1, chunk)):
            part = tasks[start : start + chunk]
            ref = ray.put(part)
            items.extend(Item(ref, index, task_meta(task)) for index, task in enumerate(part))
        return items
