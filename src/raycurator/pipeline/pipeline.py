"""Pipeline: an ordered list of stages and the executor that runs them."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from raycurator.backends.base import BaseExecutor
from raycurator.errors import PipelineConfigError
from raycurator.stages.base import CompositeStage, ProcessingStage
from raycurator.tasks import Task

logger = logging.getLogger(__name__)


class Pipeline:
    """A named chain of stages; `run()` builds it and hands it to an executor."""

    def __init__(
        self,
        name: str,
        description: str | None = None,
        stages: list[ProcessingStage] | None = None,
        config: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.description = description
        self.config = dict(config or {})
        self.stages: list[ProcessingStage] = []
        for stage in stages or []:
            self.add_stage(stage)

    def add_stage(self, stage: ProcessingStage) -> Pipeline:
        """Append a stage; anything that is not a `ProcessingStage` is a TypeError."""
        if not isinstance(stage, ProcessingStage):
            raise TypeError(
                f"pipeline '{self.name}': add_stage expects a ProcessingStage, got {type(stage).__name__} "
                f"({stage!r}); wrap functions with @processing_stage"
            )
        self.stages.append(stage)
        return self

    def build(self) -> list[ProcessingStage]:
        """The stages to run: composites replaced by their parts (nested composites are an error)."""
        if not self.stages:
            raise PipelineConfigError(f"pipeline '{self.name}' has no stages")
        built: list[ProcessingStage] = []
        for stage in self.stages:
            if not isinstance(stage, CompositeStage):
                built.append(stage)
                continue
            for part in stage.decompose_and_apply_with():
                if isinstance(part, CompositeStage):
                    raise PipelineConfigError(
                        f"composite stage '{stage.name}' decomposes into another composite '{part.name}'; "
                        "nested composite stages are not supported: decompose into plain stages"
                    )
                if not isinstance(part, ProcessingStage):
                    raise PipelineConfigError(
                        f"composite stage '{stage.name}' decomposed into {part!r}, which is not a stage"
                    )
                built.append(part)
        return built

    def describe(self) -> str:
        """A readable description of the built pipeline: stages, resources, batch sizes, I/O."""
        lines = [f"Pipeline: {self.name}"]
        if self.description:
            lines.append(f"Description: {self.description}")
        stages = self.build()
        lines.append(f"Stages: {len(stages)}")
        for index, stage in enumerate(stages, start=1):
            info = stage.describe()
            resources = ", ".join(f"{k}={v}" for k, v in info["resources"].items() if v)
            lines.append(f"  {index}. {info['name']} ({info['class']})")
            lines.append(
                f"     resources: {resources or 'none'}; batch_size: {info['batch_size']}"
                + ("; barrier" if info["barrier"] else "")
            )
            lines.append(f"     inputs: attrs={info['inputs'][0]} columns={info['inputs'][1]}")
            lines.append(f"     outputs: attrs={info['outputs'][0]} columns={info['outputs'][1]}")
        return "\n".join(lines)

    def run(
        self,
        executor: BaseExecutor | None = None,
        initial_tasks: list[Task] | None = None,
        checkpoint_path: str | Path | None = None,
    ) -> list[Task]:
        """Build the pipeline and run it (default: the Ray actor-pool executor).

        `checkpoint_path` (a local folder) records finished source partitions and skips them when
        the same run is started again; the executor must support it (`execute_with_checkpoint`).
        """
        stages = self.build()
        if executor is None:
            executor = default_executor()
        logger.info("running pipeline '%s' (%d stages) on %s", self.name, len(stages), type(executor).__name__)
        if checkpoint_path is not None:
            return executor.execute_with_checkpoint(stages, initial_tasks, str(Path(checkpoint_path).absolute()))
        return executor.execute(stages, initial_tasks)

    def __repr__(self) -> str:
        return f"Pipeline(name={self.name!r}, stages={[s.name for s in self.stages]})"


def assign_root_task_ids(initial_tasks: list[Task]) -> list[Task]:
    """Give initial tasks made without a `task_id` their position in the list as id (in place).

    Executors do this themselves when a run starts; tasks that have an id keep it.
    """
    for position, task in enumerate(initial_tasks):
        if not task.task_id:
            task.task_id = str(position)
    return initial_tasks


def default_executor() -> BaseExecutor:
    """The executor `Pipeline.run()` uses when none is given."""
    try:
        from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
    except ImportError as error:  # the Ray backend is not there (yet)
        if error.name != "raycurator.backends.ray_actor_pool":
            raise  # the backend exists but is broken: do not hide that behind a silent fallback
        from raycurator.backends.local import LocalExecutor

        return LocalExecutor()
    return RayActorPoolExecutor()
