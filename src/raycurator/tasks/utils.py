"""Helpers over collections of tasks."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import numpy as np

from raycurator.tasks.tasks import Task


class TaskPerfUtils:
    """Aggregates the per-stage perf stats that tasks carry."""

    @staticmethod
    def collect_stage_metrics(tasks: Iterable[Task]) -> dict[str, dict[str, np.ndarray]]:
        """`{stage_name: {metric: array of values, one per record}}`, custom metrics as `custom.<name>`.

        Stages appear in the order they were first met on the tasks (stage order).
        """
        collected: dict[str, dict[str, list[float]]] = {}
        for task in tasks:
            for stats in task._stage_perf:
                metrics = collected.setdefault(stats.stage_name, defaultdict(list))
                for name, value in stats.items():
                    metrics[name].append(value)
        return {
            stage: {name: np.asarray(values, dtype=float) for name, values in metrics.items()}
            for stage, metrics in collected.items()
        }
