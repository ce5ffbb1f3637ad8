"""The failure ledger: one JSON line for every input task a stage could not process."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from raycurator.errors import SkippedRecord


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
    line: int | None = None  # a skipped record (not a whole task): its line in the source file
    reason: str = ""  # a skipped record's reason (`SkippedRecord.reason`)


class FailureLedger:
    """Appends failures to a JSONL file (created on first use); readable while the run goes on."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.count = 0  # failed tasks
        self.records = 0  # skipped records (lines) of tasks that went on
        self._lock = threading.Lock()

    def record(self, failure: TaskFailure) -> None:
        """Append one failure and flush it to disk."""
        line = json.dumps({"time": time.time(), **asdict(failure)}, default=str)
        # the ledger may hold user data (file names, messages): readable by its owner only
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with os.fdopen(os.open(self.path, flags, 0o600), "a", encoding="utf-8") as handle:
                handle.write(line + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            if failure.line is None and not failure.reason:
                self.count += 1
            else:
                self.records += 1

    @staticmethod
    def read(path: str | os.PathLike[str]) -> list[dict]:
        """All entries of a ledger file (empty when it does not exist)."""
        if not os.path.exists(path):
            return []
        with open(path, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]


def skipped_record_entry(stage: str, task_id: str, record: SkippedRecord) -> TaskFailure:
    """The ledger entry of one record a stage skipped."""
    return TaskFailure(
        stage=stage,
        task_id=task_id,
        source_files=[record.source_file],
        error_type="SkippedRecord",
        message=record.detail,
        line=record.line,
        reason=record.reason,
    )
