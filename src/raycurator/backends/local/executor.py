"""LocalExecutor: runs every stage in this process, one after the other (debugging, tests)."""

from __future__ import annotations

import logging
import os
import socket

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
from raycurator.backends.outputs import RunOutputs
from raycurator.errors import StageExecutionError
from raycurator.stages.base import ProcessingStage
from raycurator.tasks import Task

logger = logging.getLogger(__name__)


class LocalExecutor(BaseExecutor):
    """Runs the stages sequentially in the calling process through `BaseStageAdapter`."""

    def execute(self, stages: list[ProcessingStage], initial_tasks: list[Task] | None = None) -> list[Task]:
        outputs = RunOutputs(stages)
        outputs.open()
        try:
            results = self._run(stages, starting_tasks(initial_tasks))
        except BaseException:
            outputs.close(succeeded=False)
            raise
        outputs.close(succeeded=True)
        return results

    @staticmethod
    def _run(stages: list[ProcessingStage], tasks: list[Task]) -> list[Task]:
        node = NodeInfo(node_id=f"local-{socket.gethostname()}")
        worker = WorkerMetadata(worker_id=f"local-{os.getpid()}")
        for stage in stages:
            adapter = BaseStageAdapter(stage)
            try:
                adapter.setup_on_node(node, worker)
                adapter.setup(worker)
            except Exception as error:
                raise stage_error(stage, [], error) from error
            try:
                size = len(tasks) if stage.is_barrier else effective_batch_size(stage)
                outputs: list[Task] = []
                for batch in iter_batches(tasks, size) if tasks else []:
                    try:
                        outputs.extend(adapter.process_batch(batch))
                    except Exception as error:
                        raise stage_error(stage, batch, error) from error
            finally:
                try:
                    adapter.teardown()
                except Exception as error:  # a failing teardown must not hide the real error
                    logger.warning("teardown of stage '%s' failed: %s", stage.name, error)
            logger.info("stage '%s': %d task(s) in, %d out", stage.name, len(tasks), len(outputs))
            tasks = outputs
        return tasks


__all__ = ["LocalExecutor", "StageExecutionError"]
