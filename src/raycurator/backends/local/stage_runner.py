"""Run one stage over a list of tasks in this process, counting what it did."""

from __future__ import annotations

import logging
import os
import socket
import time

from raycurator.backends.base import (
    BaseStageAdapter,
    NodeInfo,
    WorkerMetadata,
    effective_batch_size,
    iter_batches,
    stage_error,
)
from raycurator.backends.failures import FailureLedger, skipped_record_entry
from raycurator.backends.report import StageCounters
from raycurator.stages.base import ProcessingStage
from raycurator.tasks import Task

logger = logging.getLogger(__name__)


def run_stage_in_process(
    stage: ProcessingStage, tasks: list[Task], counters: StageCounters, ledger: FailureLedger | None = None
) -> list[Task]:
    """Set `stage` up here (node and worker), run it over `tasks` batch by batch, tear it down.

    `counters` receive the stage's figures and custom metrics; input records the stage skipped go
    to `ledger`. A failing set-up or batch raises `StageExecutionError` naming the stage and tasks.
    """
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
            if ledger is not None:
                task_ids = [t.task_id for t in batch]
                for record in adapter.last_skipped_records:
                    ledger.record(skipped_record_entry(stage.name, task_ids, record))
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
