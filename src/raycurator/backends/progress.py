"""Progress display: one line per stage (rich live table on a TTY, periodic plain lines otherwise)."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from rich.console import Console
from rich.live import Live
from rich.table import Table


def _line(row: dict[str, Any], elapsed: float) -> str:
    rate = row["rows_in"] / elapsed if elapsed > 0 else 0.0
    state = "done" if row["finished"] else f"{row['busy_actors']}/{row['actors']} actors"
    return (
        f"{row['stage']}: tasks {row['tasks_done']}/{row['tasks_in']} done, {row['queued']} queued, "
        f"{row['in_flight']} running; rows {row['rows_in']} in, {row['rows_out']} out; {rate:,.0f} rows/s; "
        f"{state}" + (f"; {row['failed']} failed" if row["failed"] else "")
    )


class ProgressReporter:
    """Shows the scheduler's per-stage snapshot while a run goes on."""

    def __init__(
        self,
        enabled: bool = True,
        interval_s: float = 10.0,
        stream: TextIO | None = None,
        leading_rows: list[dict[str, Any]] | None = None,
    ) -> None:
        """`leading_rows` are shown above the snapshot's (stages that ran before the pools, in the driver)."""
        self.enabled = enabled
        self.leading_rows = list(leading_rows or [])
        self.interval_s = interval_s
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self._last = 0.0
        self._live: Live | None = None
        if enabled and self.stream.isatty():
            self._live = Live(console=Console(file=self.stream), refresh_per_second=4, transient=False)
            self._live.start()

    def update(self, rows: list[dict[str, Any]], force: bool = False) -> None:
        """Refresh the display (plain lines at most every `interval_s`, unless forced)."""
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.started
        rows = self.leading_rows + rows
        if self._live is not None:
            self._live.update(self._table(rows, elapsed))
            return
        if force or elapsed - self._last >= self.interval_s:
            self._last = elapsed
            for row in rows:
                print(f"[raycurator {elapsed:7.1f}s] {_line(row, elapsed)}", file=self.stream, flush=True)

    def _table(self, rows: list[dict[str, Any]], elapsed: float) -> Table:
        table = Table(title=f"raycurator — {elapsed:.1f}s", expand=False)
        for column in ("stage", "tasks done/in", "queued", "running", "rows in", "rows out", "rows/s", "actors"):
            table.add_column(column)
        for row in rows:
            rate = row["rows_in"] / elapsed if elapsed > 0 else 0.0
            table.add_row(
                row["stage"],
                f"{row['tasks_done']}/{row['tasks_in']}",
                str(row["queued"]),
                str(row["in_flight"]),
                f"{row['rows_in']:,}",
                f"{row['rows_out']:,}",
                f"{rate:,.0f}",
                "done" if row["finished"] else f"{row['busy_actors']}/{row['actors']}",
            )
        return table

    def close(self, rows: list[dict[str, Any]] | None = None) -> None:
        """Final refresh and release of the terminal."""
        if rows is not None:
            self.update(rows, force=True)
        if self._live is not None:
            self._live.stop()
            self._live = None
