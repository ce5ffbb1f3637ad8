"""LocalExecutor: runs every stage in this process, one after the other (debugging, tests)."""

from __future__ import annotations

import logging
import time
import uuid

from raycurator.backends.base import BaseExecutor, starting_tasks
from raycurator.backends.failures import FailureLedger
from raycurator.backends.local.stage_runner import run_stage_in_process
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
        return run_stage_in_process(stage, tasks, counters, self._ledger)


__all__ = ["LocalExecutor", "StageExecutionError"]
