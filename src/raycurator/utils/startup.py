"""Where a run's time goes before its first row and after its last: a start-up timeline.

The executor marks the moments it passes (`RunPhase`); the process's own start time is read
from the operating system (psutil, already a dependency), so the time spent importing
and checking the pipeline before the executor runs is counted too. The timeline lands in the
run report (`extra.startup`) and `raycurator run --debug` prints it.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class RunPhase(enum.Enum):
    """The moments of a run the timeline records, in the order they normally happen."""

    PROCESS_START = "process_start"
    RUN_START = "run_start"  # the executor was called (imports and pipeline checks are done)
    RAY_CONNECTED = "ray_connected"  # Ray started or joined
    NODES_READY = "nodes_ready"  # setup_on_node ran everywhere; actors are asked for next
    FIRST_ROW = "first_row"  # the first batch of any stage started
    LAST_ROW = "last_row"  # the last batch of any stage ended
    ACTORS_STOPPED = "actors_stopped"  # every actor torn down and killed
    RAY_RELEASED = "ray_released"  # Ray shut down (or left running when it was not ours)
    RUN_END = "run_end"  # the report is written


#: The spans the breakdown shows: (label, from, to).
SPANS: tuple[tuple[str, RunPhase, RunPhase], ...] = (
    ("imports and pipeline checks", RunPhase.PROCESS_START, RunPhase.RUN_START),
    ("Ray start / connect", RunPhase.RUN_START, RunPhase.RAY_CONNECTED),
    ("node set-up", RunPhase.RAY_CONNECTED, RunPhase.NODES_READY),
    ("actor start and first batch", RunPhase.NODES_READY, RunPhase.FIRST_ROW),
    ("processing (first row to last)", RunPhase.FIRST_ROW, RunPhase.LAST_ROW),
    ("actor teardown", RunPhase.LAST_ROW, RunPhase.ACTORS_STOPPED),
    ("Ray shutdown", RunPhase.ACTORS_STOPPED, RunPhase.RAY_RELEASED),
    ("report", RunPhase.RAY_RELEASED, RunPhase.RUN_END),
)

#: The spans that are start-up or wind-down overhead rather than work on rows.
OVERHEAD_SPANS = frozenset(label for label, _, _ in SPANS if not label.startswith("processing"))


def process_start_time() -> float | None:
    """When this process started (seconds since the epoch), or None where it cannot be read."""
    try:
        import psutil

        return float(psutil.Process().create_time())
    except Exception:  # no psutil, or no /proc: the breakdown then starts at the run
        return None


@dataclass
class StartupTimeline:
    """The wall-clock time of each `RunPhase` a run reached (the first time it reached it)."""

    clock: Callable[[], float] = time.time
    marks: dict[RunPhase, float] = field(default_factory=dict)
    ray_started_here: bool | None = None  # whether the run started its own Ray (None: not known)

    def mark(self, phase: RunPhase, at: float | None = None) -> None:
        """Record `phase` now (or at `at`); a phase already recorded keeps its first time."""
        if phase not in self.marks:
            self.marks[phase] = self.clock() if at is None else at

    def spans(self) -> list[tuple[str, float]]:
        """(label, seconds) of every span whose two ends were recorded, in run order."""
        return [
            (label, max(0.0, self.marks[end] - self.marks[start]))
            for label, start, end in SPANS
            if start in self.marks and end in self.marks
        ]

    def to_dict(self) -> dict[str, Any]:
        """The marks (seconds after the first one) and the spans, for `report.json`."""
        origin = min(self.marks.values()) if self.marks else 0.0
        return {
            "origin": origin,
            "marks_s": {phase.value: round(at - origin, 4) for phase, at in self.marks.items()},
            "spans_s": {label: round(seconds, 4) for label, seconds in self.spans()},
            "ray_started_here": self.ray_started_here,
        }


def overhead_share(startup: dict[str, Any]) -> tuple[float, float]:
    """(overhead seconds, total seconds) of a timeline as `StartupTimeline.to_dict` wrote it."""
    spans = startup.get("spans_s") or {}
    total = sum(float(v) for v in spans.values())
    overhead = sum(float(v) for k, v in spans.items() if k in OVERHEAD_SPANS)
    return overhead, total


def format_breakdown(startup: dict[str, Any]) -> list[str]:
    """Lines describing a timeline as `StartupTimeline.to_dict` wrote it."""
    spans = startup.get("spans_s") or {}
    if not spans:
        return []
    overhead, total = overhead_share(startup)
    lines = [f"start-up breakdown ({total:.2f} s from process start to the report; {overhead:.2f} s overhead):"]
    lines.extend(f"  {label:<32} {seconds:7.2f} s" for label, seconds in spans.items())
    return lines
