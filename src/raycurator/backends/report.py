"""Run accounting: per-stage counters and the run report, kept by any executor."""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from raycurator.errors import error_summary


@dataclass
class StageCounters:
    """What happened in one stage during a run.

    Every input task ends in exactly one of: attributed (produced >= 1 output), filtered
    (produced none), failed, or discarded (its data was lost with a node, so its source
    partition ran again); `balanced` checks `tasks_in == attributed + filtered + failed + discarded`.
    """

    stage_name: str
    tasks_in: int = 0
    tasks_out: int = 0
    tasks_attributed: int = 0
    tasks_filtered: int = 0
    tasks_failed: int = 0
    tasks_discarded: int = 0
    rows_in: int = 0
    rows_out: int = 0
    rows_failed: int = 0  # rows of the failed inputs (not counted as removed)
    batches: int = 0
    retries: int = 0
    actors_started: int = 0
    actors_restarted: int = 0
    busy_s: float = 0.0
    idle_s: float = 0.0
    max_queued: int = 0
    first_start: float | None = None
    last_end: float | None = None
    custom_metrics: dict[str, float] = field(default_factory=dict)
    side_outputs: dict[str, str] = field(default_factory=dict)  # label -> path (e.g. excluded documents)

    @property
    def balanced(self) -> bool:
        """Whether every input is accounted for."""
        return self.tasks_in == self.tasks_attributed + self.tasks_filtered + self.tasks_failed + self.tasks_discarded

    def record_batch(
        self, num_inputs: int, num_outputs: int, output_counts: list[int] | None, rows_in: int, rows_out: int
    ) -> None:
        """Account a successful batch; without per-input counts, outputs are attributed in order."""
        self.batches += 1
        self.tasks_out += num_outputs
        self.rows_in += rows_in
        self.rows_out += rows_out
        if output_counts is not None and len(output_counts) == num_inputs:
            attributed = sum(1 for c in output_counts if c > 0)
        else:
            attributed = min(num_inputs, num_outputs)
        self.tasks_attributed += attributed
        self.tasks_filtered += num_inputs - attributed

    def add_custom_metrics(self, metrics: dict[str, float] | None) -> None:
        """Add the custom metrics one call of the stage logged (`ProcessingStage._log_metric`)."""
        for name, value in (metrics or {}).items():
            self.custom_metrics[name] = self.custom_metrics.get(name, 0.0) + float(value)

    def mark_active(self, start: float, end: float) -> None:
        """Widen the stage's active window."""
        self.first_start = start if self.first_start is None else min(self.first_start, start)
        self.last_end = end if self.last_end is None else max(self.last_end, end)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["balanced"] = self.balanced
        wall = (self.last_end - self.first_start) if self.first_start and self.last_end else 0.0
        data["active_s"] = wall
        data["rows_per_s"] = self.rows_in / wall if wall > 0 else None
        return data


@dataclass
class RunReport:
    """Counters of every stage plus run totals; written as `report.json` in the log directory."""

    run_id: str
    executor: str
    mode: str
    stages: list[StageCounters] = field(default_factory=list)
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    status: str = "running"
    error: str | None = None
    log_dir: str | None = None
    failure_ledger: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def succeeded(self) -> None:
        """Mark the run as finished without error."""
        self.status = "succeeded"

    def failed(self, error: BaseException) -> None:
        """Mark the run as failed (or interrupted, for Ctrl-C and SIGTERM) by `error`, in one paragraph."""
        self.status = "interrupted" if isinstance(error, KeyboardInterrupt) else "failed"
        self.error = error_summary(error)

    def note_side_outputs(self, stages: list[Any]) -> None:
        """Copy each stage's `side_outputs()` onto its counters (stages of other names are ignored)."""
        by_name = {counters.stage_name: counters for counters in self.stages}
        for stage in stages:
            counters = by_name.get(stage.name)
            if counters is not None:
                counters.side_outputs = dict(stage.side_outputs())

    def stage(self, name: str) -> StageCounters:
        """The counters of the stage called `name`."""
        for counters in self.stages:
            if counters.stage_name == name:
                return counters
        raise KeyError(f"no stage '{name}' in this run; stages: {[s.stage_name for s in self.stages]}")

    @property
    def wall_s(self) -> float:
        return (self.finished_at or time.time()) - self.started_at

    @property
    def balanced(self) -> bool:
        return all(s.balanced for s in self.stages)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "executor": self.executor,
            "mode": self.mode,
            "status": self.status,
            "error": self.error,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "wall_s": self.wall_s,
            "log_dir": self.log_dir,
            "failure_ledger": self.failure_ledger,
            "balanced": self.balanced,
            "stages": [s.to_dict() for s in self.stages],
            "extra": self.extra,
        }

    def write(self, directory: str | os.PathLike[str]) -> Path:
        """Write `report.json` atomically into `directory`; returns its path."""
        path = Path(directory) / "report.json"
        write_text_atomic(path, json.dumps(self.to_dict(), indent=2, default=str))
        return path


def removal_reasons(stage: dict[str, Any], top: int = 5) -> list[tuple[str, float]]:
    """The `top` largest `removed_by_<reason>` custom metrics of a stage of `report.json`."""
    metrics = stage.get("custom_metrics") or {}
    reasons = [(name[len("removed_by_") :], value) for name, value in metrics.items() if name.startswith("removed_by_")]
    reasons = [(name, value) for name, value in reasons if value]
    return sorted(reasons, key=lambda item: (-item[1], item[0]))[:top]


def write_text_atomic(path: Path, text: str, mode: int | None = None) -> None:
    """Write `text` to `path` through a temporary file and a rename.

    `mode` (e.g. 0o600 for files that may hold user data) is the file's permission bits; by
    default those of an ordinary file under the process's umask.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is None:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask  # mkstemp creates 0600; reports are ordinary files
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
