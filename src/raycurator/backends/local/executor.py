"""LocalExecutor: runs every stage in this process, one after the other (debugging, tests)."""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid

from raycurator.backends.base import (
    BaseExecutor,
    BaseStageAdapter,
    NodeInfo,
    WorkerMetadata,
    effective_batch_size,
    iter_batches,
    stage_error,
    starting_tasks,
)
from raycurator.backends.failures import FailureLedger, skipped_record_entry
from raycurator.backends.outputs import RunOutputs
from raycurator.backends.report import RunReport, StageCounters
from raycurator.backends.run_folder import RunFolder
from raycurator.errors import StageExecutionError
from raycurator.stages.base import ProcessingStage
from raycurator.tasks import Task

logger = logging.getLogger(__name__)


class LocalExecutor(BaseExecutor):
    """Runs the stages sequentially in the calling process through `BaseStageAdapter`.

    Keeps a `RunReport` of the last run in `last_report` (per-stage counters and the custom
    metrics stages logged); it is written as `report.json` (with `failures.jsonl` listing skipped
    input records) only when `config["log_dir"]` is set.
    """

    def __init__(self, config: dict | None = None) -> None:
        super().__init__(config)
        self.last_report: RunReport | None = None
        self._ledger: FailureLedger | None = None

    def execute(self, stages: list[ProcessingStage], initial_tasks: list[Task] | None = None) -> list[Task]:
        tasks = starting_tasks(initial_tasks)
        outputs = RunOutputs(stages)
        log_dir = self.config.get("log_dir")
        run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]
        folder = RunFolder.create(str(log_dir), run_id) if log_dir else None  # object storage: staged, uploaded
        report = RunReport(
            run_id=run_id,
            executor=type(self).__name__,
            mode="sequential",
            stages=[StageCounters(stage.name) for stage in stages],
            log_dir=folder.location if folder else None,
        )
        report.note_side_outputs(stages)
        self.last_report = report
        self._ledger = FailureLedger(folder.local / "failures.jsonl") if folder else None
        outputs.open()
        try:
            for stage, counters in zip(stages, report.stages, strict=True):
                tasks = self._run_stage(stage, tasks, counters)
            report.succeeded()
        except BaseException as error:
            outputs.close(succeeded=False)
            report.failed(error)
            raise
        finally:
            report.finished_at = time.time()
            if self._ledger is not None and self._ledger.records and folder is not None:
                report.failure_ledger = folder.location_of(self._ledger.path)
            if folder is not None:
                try:
                    report.write(folder.local)
                except OSError as error:
                    logger.warning("could not write the run report to %s: %s", folder.local, error)
                folder.publish()
        outputs.close(succeeded=True)
        return tasks

    def _run_stage(self, stage: ProcessingStage, tasks: list[Task], counters: StageCounters) -> list[Task]:
        node = NodeInfo(node_id=f"local-{socket.gethostname()}")
        worker = WorkerMetadata(worker_id=f"local-{os.getpid()}")
        adapter = BaseStageAdapter(stage)
        counters.tasks_in = len(tasks)
        counters.actors_started = 1
        try:
            adapter.setup_on_node(node, worker)
            adapter.setup(worker)
        except Exception as error:
            counters.tasks_failed = len(tasks)
            raise stage_error(stage, [], error) from error
        try:
            size = len(tasks) if stage.is_barrier else effective_batch_size(stage)
            outputs: list[Task] = []
            for batch in iter_batches(tasks, size) if tasks else []:
                start = time.time()
                try:
                    produced = adapter.process_batch(batch)
                except Exception as error:
                    counters.tasks_failed += len(batch)
                    counters.rows_failed += sum(t.num_items for t in batch)
                    raise stage_error(stage, batch, error) from error
                counters.record_batch(
                    len(batch),
                    len(produced),
                    adapter.last_output_counts,
                    sum(t.num_items for t in batch),
                    sum(t.num_items for t in produced),
                )
                counters.add_custom_metrics(adapter.last_custom_metrics)
                if self._ledger is not None:
                    task_ids = [t.task_id for t in batch]
                    for record in adapter.last_skipped_records:
                        self._ledger.record(skipped_record_entry(stage.name, task_ids, record))
                counters.busy_s += time.time() - start
                counters.mark_active(start, time.time())
                outputs.extend(produced)
        finally:
            try:
                adapter.teardown()
            except Exception as error:  # a failing teardown must not hide the real error
                logger.warning("teardown of stage '%s' failed: %s", stage.name, error)
        logger.info("stage '%s': %d task(s) in, %d out", stage.name, len(tasks), len(outputs))
        return outputs


__all__ = ["LocalExecutor", "StageExecutionError"]
