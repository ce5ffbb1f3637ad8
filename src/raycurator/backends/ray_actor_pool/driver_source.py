"""A run's source stage (file listing) run in the driver, on a thread while Ray starts.

A stage whose `ray_stage_spec()` sets `RUNS_ON_DRIVER` (file and URL partitioning) only lists
inputs: starting a worker process for it costs more than its work. Its outputs become the run's
initial tasks, the source partitions that checkpoints and recovery track, as they would have
been coming out of the stage on an actor.
"""

from __future__ import annotations

import threading
from typing import Any

from raycurator.backends.base import starting_tasks
from raycurator.backends.failures import FailureLedger
from raycurator.backends.local.stage_runner import run_stage_in_process
from raycurator.backends.ray_actor_pool.scheduling.statistics import progress_row
from raycurator.backends.report import StageCounters
from raycurator.stages.base import ProcessingStage, RayStageSpecKeys
from raycurator.tasks import Task


class DriverSource:
    """Runs the first stage of a run in this process; `result()` waits for its output tasks."""

    def __init__(self, stage: ProcessingStage) -> None:
        self.stage = stage
        self.counters = StageCounters(stage.name)
        self._outputs: list[Task] = []
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def for_run(
        cls, stages: list[ProcessingStage], initial_tasks: list[Task] | None, enabled: bool
    ) -> DriverSource | None:
        """The driver-side source of a run that starts from nothing, when its first stage allows it."""
        if not enabled or initial_tasks is not None or len(stages) < 2:
            return None
        return cls(stages[0]) if stages[0].ray_stage_spec().get(RayStageSpecKeys.RUNS_ON_DRIVER) else None

    def start(self, ledger: FailureLedger | None) -> None:
        """Begin listing on a daemon thread (the caller meanwhile starts or connects to Ray)."""
        self._thread = threading.Thread(target=self._run, args=(ledger,), name="raycurator-source", daemon=True)
        self._thread.start()

    def _run(self, ledger: FailureLedger | None) -> None:
        try:
            self._outputs = run_stage_in_process(self.stage, starting_tasks(None), self.counters, ledger)
        except BaseException as error:  # re-raised by result() in the calling thread
            self._error = error

    def progress_row(self) -> dict[str, Any]:
        """The stage's line in the live progress display (it is done before the actors start)."""
        return progress_row(self.counters, finished=True)

    def result(self) -> list[Task]:
        """The stage's output tasks; raises what the stage raised (a `StageExecutionError`)."""
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error
        return self._outputs
