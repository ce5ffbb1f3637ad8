"""Helpers over collections of tasks."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from raycurator.tasks.tasks import Task


class TaskPerfUtils:
    """Aggregates the per-stage perf stats that tasks carry.

    Every method takes a list of tasks, a mapping `{pipeline name: tasks}`, a dict with a
    `pipeline_tasks` mapping, or a workflow result (`WorkflowRunResult`, anything with a
    `pipeline_tasks` mapping), as NeMo Curator 1.4's does.
    """

    @staticmethod
    def _normalize_pipeline_tasks(tasks: Any) -> dict[str, list[Task]]:
        """`{pipeline name: tasks}` from any of the accepted shapes (a plain list is pipeline "")."""
        if tasks is None:
            return {"": []}
        source = getattr(tasks, "pipeline_tasks", None)
        if source is None and isinstance(tasks, Mapping):
            inner = tasks.get("pipeline_tasks")
            source = inner if isinstance(inner, Mapping) else tasks
        if source is None:
            if isinstance(tasks, Task) or not isinstance(tasks, Iterable):
                raise TypeError(
                    "tasks must be a list of tasks, a mapping of pipeline name -> tasks, a workflow result dict "
                    f"or a WorkflowRunResult; got {type(tasks).__name__}"
                )
            return {"": list(tasks)}
        normalized: dict[str, list[Task]] = {}
        for name, pipeline_tasks in source.items():
            if pipeline_tasks is None:
                normalized[str(name)] = []
            elif isinstance(pipeline_tasks, Task):
                normalized[str(name)] = [pipeline_tasks]
            else:
                normalized[str(name)] = list(pipeline_tasks)
        return normalized or {"": []}

    @staticmethod
    def collect_stage_metrics(tasks: Any) -> dict[str, dict[str, np.ndarray]]:
        """`{stage_name: {metric: array of values, one per record}}`, custom metrics as `custom.<name>`.

        A record is the figures of one stage call; a call that made several tasks attached the
        same record to each, and it is counted once (by its `record_id`). Stages appear in the
        order they were first met on the tasks (stage order).
        """
        collected: dict[str, dict[str, list[float]]] = {}
        seen: set[str | int] = set()
        for pipeline_tasks in TaskPerfUtils._normalize_pipeline_tasks(tasks).values():
            for task in pipeline_tasks:
                for stats in task._stage_perf:
                    key = stats.record_id or id(stats)
                    if key in seen:
                        continue
                    seen.add(key)
                    metrics = collected.setdefault(stats.stage_name, defaultdict(list))
                    for name, value in stats.items():
                        metrics[name].append(value)
        return {
            stage: {name: np.asarray(values, dtype=float) for name, values in metrics.items()}
            for stage, metrics in collected.items()
        }

    @staticmethod
    def aggregate_task_metrics(tasks: Any, prefix: str | None = None) -> dict[str, float]:
        """`{"<stage>_<metric>_<sum|mean|std>": value}` per pipeline; stage names get `prefix_` (and the
        pipeline's name when there are several pipelines)."""
        result: dict[str, float] = {}
        pipelines = TaskPerfUtils._normalize_pipeline_tasks(tasks)
        several = len(pipelines) > 1
        for pipeline_name, pipeline_tasks in pipelines.items():
            if prefix:
                stage_prefix: str | None = f"{prefix}_{pipeline_name}" if pipeline_name else prefix
            else:
                stage_prefix = pipeline_name if pipeline_name and several else None
            for stage, metrics in TaskPerfUtils.collect_stage_metrics(pipeline_tasks).items():
                label = stage if stage_prefix is None else f"{stage_prefix}_{stage}"
                for metric, values in metrics.items():
                    for aggregate, function in (("sum", np.sum), ("mean", np.mean), ("std", np.std)):
                        result[f"{label}_{metric}_{aggregate}"] = float(function(values)) if len(values) else 0.0
        return result

    @staticmethod
    def get_aggregated_stage_stat(tasks: Any, stage_prefix: str, stat: str) -> float:
        """The sum of `stat` over every stage whose name starts with `stage_prefix` (0.0 when none)."""
        return sum(
            float(np.sum(metrics[stat]))
            for stage, metrics in TaskPerfUtils.collect_stage_metrics(tasks).items()
            if stage.startswith(stage_prefix) and stat in metrics
        )
