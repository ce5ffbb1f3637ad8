"""The failure ledger: one JSON line for every input task a stage could not process."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class TaskFailure:
    """Why one input task failed in one stage."""

    stage: str
    task_id: str
    source_files: list[str] = field(default_factory=list)
    error_type: str = ""
    message: str = ""
    traceback: str = ""
    attempts: int = 1


class FailureLedger:
    """Appends failures to a JSONL file (created on first use); readable while the run goes on."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.count = 0
        self._lock = threading.Lock()

    def record(self, failure: TaskFailure) -> None:
        """Append one failure and flush it to disk."""
        line = json.dumps({"time": time.time(), **asdict(failure)}, default=str)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            self.count += 1

    @staticmethod
    def read(path: str | os.PathLike[str]) -> list[dict]:
        """All entries of a ledger file (empty when it does not exist)."""
        if not os.path.exists(path):
            return []
        with open(path, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]
