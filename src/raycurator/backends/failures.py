"""The failure ledger: one JSON line for every input task a stage could not process."""

from __future__ import annotations

import json
import os
import threading
import time
import traceback as traceback_module
from dataclasses import asdict, dataclass, field
from pathlib import Path

from raycurator.errors import SkippedRecord, StageExecutionError
from raycurator.tasks import Task


@dataclass
class TaskFailure:
    """Why input tasks failed in one stage: the task ids (a list), files, error and its traceback.

    An entry of the failure ledger names one task; the error that ends a run names the whole batch.
    """

    stage: str
    task_ids: list[str] = field(default_factory=list)
    source_files: list[str] = field(default_factory=list)
    error_type: str = ""
    message: str = ""
    traceback: str = ""
    attempts: int = 1
    line: int | None = None  # a skipped record (not a whole task): its line in the source file
    reason: str = ""  # a skipped record's reason (`SkippedRecord.reason`)

    @classmethod
    def from_exception(cls, stage: str, tasks: list[Task], error: BaseException) -> TaskFailure:
        """The failure of `tasks` in `stage` that raised `error` (with its formatted traceback)."""
        return cls(
            stage=stage,
            task_ids=[t.task_id for t in tasks],
            source_files=source_files_of(tasks),
            error_type=type(error).__name__,
            message=str(error),
            traceback="".join(traceback_module.format_exception(error)),
        )

    def to_error(self) -> StageExecutionError:
        """The `StageExecutionError` that reports this failure."""
        return StageExecutionError(
            self.stage, self.task_ids, self.source_files, self.error_type, self.message, self.traceback
        )

    def to_record(self) -> dict:
        """The ledger's JSON fields (`task_id` too when the failure names exactly one task)."""
        record = asdict(self)
        record["task_id"] = self.task_ids[0] if len(self.task_ids) == 1 else None
        return record


def source_files_of(tasks: list[Task]) -> list[str]:
    """The distinct source files of `tasks`, in order of first appearance."""
    files: list[str] = []
    for task in tasks:
        files.extend(f for f in task.source_files if f not in files)
    return files


class FailureLedger:
    """Appends failures to a JSONL file (created on first use); readable while the run goes on."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.count = 0  # failed tasks
        self.records = 0  # skipped records (lines) of tasks that went on
        self._lock = threading.Lock()

    def record(self, failure: TaskFailure) -> None:
        """Append one failure and flush it to disk."""
        line = json.dumps({"time": time.time(), **failure.to_record()}, default=str)
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


def skipped_record_entry(stage: str, task_ids: list[str], record: SkippedRecord) -> TaskFailure:
    """The ledger entry of one record a stage skipped (`task_ids`: the batch it was skipped in)."""
    return TaskFailure(
        stage=stage,
        task_ids=list(task_ids),
        source_files=[record.source_file],
        error_type="SkippedRecord",
        message=record.detail,
        line=record.line,
        reason=record.reason,
    )
