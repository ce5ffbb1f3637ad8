"""`URLGenerator` (what users subclass) and the stage that turns its URLs into download tasks."""

from __future__ import annotations

import logging
import re
import uuid
from abc import ABC, abstractmethod
from typing import Any

from raycurator.stages.base import ProcessingStage, RayStageSpecKeys
from raycurator.stages.file_partitioning import RUN_ID_KEY
from raycurator.stages.resources import Resources
from raycurator.tasks import FileGroupTask, Task

logger = logging.getLogger(__name__)


class URLGenerator(ABC):
    """Produces the list of URLs (or paths) a download-and-extract pipeline fetches."""

    @abstractmethod
    def generate_urls(self) -> list[str]:
        """The URLs to download, in a stable order."""


class StaticUrlGenerator(URLGenerator):
    """The URLs or paths it was given, in that order."""

    def __init__(self, urls: str | list[str]) -> None:
        self.urls = [urls] if isinstance(urls, str) else list(urls)
        if not self.urls or not all(isinstance(u, str) and u for u in self.urls):
            raise ValueError(f"StaticUrlGenerator: urls must be a non-empty list of strings, got {urls!r}")

    def generate_urls(self) -> list[str]:
        return list(self.urls)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class URLGenerationStage(ProcessingStage[Task, FileGroupTask]):
    """Calls the generator once (from the start token) and emits one `FileGroupTask` per URL.

    Task ids are `"{generator}_{index:06d}"` in the generator's order, so a rerun over the same
    URLs yields the same ids (resume and deterministic output names rely on that).
    """

    def __init__(self, url_generator: URLGenerator, limit: int | None = None) -> None:
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
            raise ValueError(f"URLGenerationStage: limit must be a positive int, got {limit!r}")
        self.url_generator = url_generator
        self.limit = limit
        self._name = f"url_generation_{type(url_generator).__name__.lower()}"
        self._resources = Resources(cpus=0.5)

    def ray_stage_spec(self) -> dict[str, Any]:
        return {RayStageSpecKeys.IS_FANOUT_STAGE: True, RayStageSpecKeys.RUNS_ON_DRIVER: True}

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], []

    def num_workers(self) -> int | None:
        return 1

    def process(self, task: Task) -> list[FileGroupTask]:
        urls = list(self.url_generator.generate_urls())
        if self.limit is not None:
            urls = urls[: self.limit]
        prefix = _snake(type(self.url_generator).__name__)
        run_id = uuid.uuid4().hex
        logger.info("stage '%s': %d URL(s) to download", self.name, len(urls))
        return [
            FileGroupTask(
                task_id=f"{prefix}_{index:06d}",
                dataset_name=prefix,
                data=[url],
                _metadata={"source_url": url, "source_files": [url], RUN_ID_KEY: run_id, "partition_index": index},
            )
            for index, url in enumerate(urls)
        ]
