"""FileGroupTask: a group of file paths (a partition of the input)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from raycurator.tasks.tasks import Task


@dataclass(repr=False)
class FileGroupTask(Task[list[str]]):
    """A list of file paths or URLs, plus the reader options that apply to them."""

    reader_config: dict[str, Any] = field(default_factory=dict)

    @property
    def num_items(self) -> int:
        return len(self.data)

    def validate(self) -> bool:
        return isinstance(self.data, list) and all(isinstance(p, str) and p for p in self.data)

    @property
    def source_files(self) -> list[str]:
        files = self._metadata.get("source_files")
        return list(files) if files else list(self.data)
