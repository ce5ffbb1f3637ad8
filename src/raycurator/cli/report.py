"""Printing run reports: the per-stage summary table and where the files are."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from raycurator.backends.report import removal_reasons
from raycurator.backends.report_html import run_totals, stage_rows
from raycurator.cli.report_statistics import print_statistics
from raycurator.utils.storage import redact_url

# C0 controls but tab and newline, DEL, C1 controls: what a terminal may act on (ESC]0; ESC[2J ...)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: object) -> str:
    """`text` with control characters shown as escapes (`\\x1b`), so printing it cannot drive the terminal."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def find_run_dir(path: str | Path) -> Path:
    """The run directory for `path`: itself when it holds `report.json`, else its newest run sub-folder."""
    directory = Path(path)
    if (directory / "report.json").is_file():
        return directory
    if directory.is_file() and directory.name == "report.json":
        return directory.parent
    if not directory.exists():
        raise FileNotFoundError(f"'{path}' does not exist")
    runs = sorted(
        (p.parent for p in directory.glob("*/report.json")), key=lambda p: (p / "report.json").stat().st_mtime
    )
    if not runs:
        raise FileNotFoundError(f"no report.json in '{path}' nor in its sub-folders: is it a run's log directory?")
    return runs[-1]


def load_report(run_dir: Path) -> dict[str, Any]:
    """The parsed `report.json` of a run directory; a `ValueError` naming the file when it is damaged."""
    path = run_dir / "report.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} is damaged (not JSON: {error})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} is damaged (a JSON object was expected, got {type(data).__name__})")
    stages = data.get("stages")
    if stages is not None and (not isinstance(stages, list) or not all(isinstance(s, dict) for s in stages)):
        raise ValueError(f"{path} is damaged ('stages' is not a list of objects)")
    return data


def _int(value: Any) -> int:
    return int(value or 0)


def rows_removed(stage: dict[str, Any]) -> int:
    """Rows a stage removed (0 for readers, fan-out stages and writers)."""
    return stage_rows(stage)[2]


def removed_text(stage: dict[str, Any]) -> str:
    """`152 (5.1%)`, `+2,992` (rows added), `-` (outputs count another unit) or `0`."""
    kind, _, removed, added = stage_rows(stage)
    rows_in = _int(stage.get("rows_in"))
    if kind == "convert":
        return "-"
    if kind == "expand":
        return f"+{added:,}"
    return f"{removed:,} ({100 * removed / rows_in:.1f}%)" if removed and rows_in else "0"


def _failed_text(stage: dict[str, Any]) -> str:
    """`2` failed tasks, `2 (40 rows)` when their rows are known."""
    tasks, rows = _int(stage.get("tasks_failed")), _int(stage.get("rows_failed"))
    return f"{tasks} ({rows:,} rows)" if rows else str(tasks)


def summary_table(report: dict[str, Any]) -> Table:
    """A rich table with one line per stage."""
    table = Table(title=f"run {report.get('run_id')} — {report.get('status')}", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("stage")
    for column in (
        "tasks in",
        "tasks out",
        "rows in",
        "rows out",
        "removed",
        "failed",
        "retries",
        "actors",
        "busy s",
        "active s",
        "rows/s",
    ):
        table.add_column(column, justify="right")
    for index, stage in enumerate(report.get("stages") or [], start=1):
        rows_in = _int(stage.get("rows_in"))
        rate = stage.get("rows_per_s")
        table.add_row(
            str(index),
            Text(printable(stage.get("stage_name"))),
            f"{_int(stage.get('tasks_in')):,}",
            f"{_int(stage.get('tasks_out')):,}",
            f"{rows_in:,}",
            f"{_int(stage.get('rows_out')):,}",
            removed_text(stage),
            _failed_text(stage),
            str(_int(stage.get("retries"))),
            str(_int(stage.get("actors_started"))),
            f"{float(stage.get('busy_s') or 0):.2f}",
            f"{float(stage.get('active_s') or 0):.2f}",
            f"{rate:,.0f}" if isinstance(rate, int | float) else "-",
        )
    return table


def custom_metrics_lines(report: dict[str, Any]) -> list[str]:
    """`stage: name=value, ...` for every stage that logged custom metrics."""
    lines = []
    for stage in report.get("stages") or []:
        metrics = stage.get("custom_metrics") or {}
        if metrics:
            values = ", ".join(f"{name}={_metric_text(value)}" for name, value in sorted(metrics.items()))
            lines.append(printable(f"{stage.get('stage_name')}: {values}"))
    return lines


def _metric_text(value: Any) -> str:
    if isinstance(value, int | float) and float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.3f}" if isinstance(value, int | float) else str(value)


def print_report(report: dict[str, Any], console: Console, run_dir: Path | str | None = None) -> None:
    """The summary table, run totals, and the paths of the report files."""
    console.print(summary_table(report))
    started = report.get("started_at")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)) if isinstance(started, int | float) else "?"
    console.print(
        f"status: {report.get('status')}; executor {report.get('executor')} ({report.get('mode')}); "
        f"started {when}; wall time {float(report.get('wall_s') or 0):.2f} s; "
        f"every input accounted for: {'yes' if report.get('balanced') else 'no'}",
        highlight=False,
    )
    totals = run_totals(report.get("stages") or [])
    console.print(
        f"rows read: {totals['rows_read']:,}; removed: {totals['rows_removed']:,}; "
        f"at the end: {totals['rows_final']:,}; failed tasks: {totals['tasks_failed']} "
        f"({totals['rows_failed']:,} rows); retries: {totals['retries']}",
        highlight=False,
    )
    for stage in report.get("stages") or []:
        for label, path in (stage.get("side_outputs") or {}).items():
            reasons = ", ".join(f"{name} {_metric_text(value)}" for name, value in removal_reasons(stage))
            line = f"{stage.get('stage_name')}: {label} in {path}" + (f" (top reasons: {reasons})" if reasons else "")
            console.print(Text(printable(line)), highlight=False, soft_wrap=True)
    metric_lines = custom_metrics_lines(report)
    if metric_lines:
        console.print("custom metrics:", highlight=False)
        for line in metric_lines:
            console.print(Text("  " + line), highlight=False, soft_wrap=True)
    nodes = (report.get("extra") or {}).get("nodes")
    if isinstance(nodes, dict):
        refused = len(nodes.get("refused") or [])
        console.print(
            f"nodes lost: {len(nodes.get('lost') or [])}; joined: {len(nodes.get('added') or [])}; "
            + (f"joined but not used (setup_on_node failed): {refused}; " if refused else "")
            + f"partitions recomputed: {nodes.get('partitions_recomputed', 0)}",
            highlight=False,
        )
    if report.get("error"):
        console.print(f"error: {printable(report['error'])}", highlight=False, markup=False)
    if report.get("failure_ledger"):
        ledger = printable(report["failure_ledger"])
        console.print(f"failed inputs and skipped records: {ledger}", highlight=False, markup=False)
    if isinstance(run_dir, str):  # a run folder on object storage (uploaded by the executor)
        console.print(f"reports: {redact_url(run_dir)}/report.json, report.html", highlight=False, markup=False)
    elif run_dir is not None:
        for name in ("report.json", "report.html"):
            if (run_dir / name).exists():
                console.print(f"{name}: {run_dir / name}", highlight=False, markup=False, soft_wrap=True)
    print_statistics(report, console)
