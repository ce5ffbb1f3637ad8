"""`report.html`: a self-contained page for one run (inline CSS and SVG, no scripts, no network).

Shows the run's status and timings, a per-stage table, and three charts drawn from
`report.json`'s figures: rows kept/removed per stage, time per stage (busy/idle), and a
timeline of each stage's active window (`first_start` .. `last_end`).
"""

from __future__ import annotations

import html
import json
import math
import os
import time
from pathlib import Path
from typing import Any

from raycurator.backends.report import removal_reasons, write_text_atomic
from raycurator.stages.text.statistics.histogram import categories_from_metrics, histograms_from_metrics

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem; color: #1f2933;
       background: #fafbfc; }
h1 { font-size: 1.5rem; margin-bottom: .25rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
.meta { color: #52606d; margin: .2rem 0; }
.badge { display: inline-block; padding: .1rem .6rem; border-radius: .8rem; color: #fff; font-weight: 600; }
.succeeded { background: #2f9e44; } .failed { background: #c92a2a; } .interrupted { background: #e67700; }
.running { background: #1971c2; }
.error { background: #fff5f5; border: 1px solid #ffa8a8; padding: .75rem; white-space: pre-wrap;
         font-family: ui-monospace, monospace; font-size: .85rem; }
table { border-collapse: collapse; font-size: .85rem; background: #fff; }
th, td { border: 1px solid #d9e2ec; padding: .3rem .5rem; text-align: right; }
th { background: #f0f4f8; } td.name, th.name { text-align: left; }
.cards { display: flex; gap: 1rem; flex-wrap: wrap; }
.card { background: #fff; border: 1px solid #d9e2ec; border-radius: .4rem; padding: .6rem 1rem; min-width: 9rem; }
.card .v { font-size: 1.3rem; font-weight: 600; } .card .k { color: #52606d; font-size: .8rem; }
svg text { font-family: system-ui, sans-serif; font-size: 12px; fill: #1f2933; }
.legend span { display: inline-block; width: .8rem; height: .8rem; margin: 0 .3rem 0 1rem; vertical-align: middle; }
pre { background: #fff; border: 1px solid #d9e2ec; padding: .75rem; overflow: auto; font-size: .8rem; }
"""

_KEPT, _REMOVED, _ADDED, _CONVERT = "#2f9e44", "#e03131", "#1971c2", "#adb5bd"
_BUSY, _IDLE, _ACTIVE = "#1971c2", "#a5d8ff", "#7048e8"
_LABEL_W, _BAR_W, _ROW_H = 230, 560, 24


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return _e(value)


def _when(timestamp: Any) -> str:
    if not isinstance(timestamp, int | float):
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))


def converts_rows(stage: dict[str, Any]) -> bool:
    """Whether a stage's outputs count something else than its inputs (documents in, files out).

    Uses `task_type_in` / `task_type_out` when the report has them; otherwise a stage whose
    output tasks hold one item each while its inputs held more (a writer) counts as converting.
    """
    type_in, type_out = stage.get("task_type_in"), stage.get("task_type_out")
    if type_in and type_out:
        return type_in != type_out and not (int(stage.get("rows_in") or 0) == 0)
    rows_in, rows_out = int(stage.get("rows_in") or 0), int(stage.get("rows_out") or 0)
    tasks_in, tasks_out = int(stage.get("tasks_in") or 0), int(stage.get("tasks_out") or 0)
    return 0 < rows_out < rows_in and rows_out == tasks_out and rows_in > tasks_in


def stage_rows(stage: dict[str, Any]) -> tuple[str, int, int, int]:
    """`(kind, kept, removed, added)` rows of a stage; kind is "filter", "expand" or "convert".

    "filter": rows out <= rows in, `removed` = the difference; "expand": more rows out than in
    (readers, fan-out), `added` = the difference; "convert": outputs count another unit (a
    writer's files), nothing is kept, removed or added.
    """
    rows_in, rows_out = int(stage.get("rows_in") or 0), int(stage.get("rows_out") or 0)
    rows_failed = int(stage.get("rows_failed") or 0)  # rows of failed inputs are failed, not removed
    if converts_rows(stage):
        return "convert", 0, 0, 0
    if rows_out > rows_in:
        return "expand", rows_in, 0, rows_out - rows_in
    return "filter", rows_out, max(0, rows_in - rows_out - rows_failed), 0


def _rows_split(stage: dict[str, Any]) -> tuple[int, int, int]:
    _, kept, removed, added = stage_rows(stage)
    return kept, removed, added


def _svg(height: int, body: list[str], label: str) -> str:
    width = _LABEL_W + _BAR_W + 260
    return (
        f'<svg role="img" aria-label="{_e(label)}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}">' + "".join(body) + "</svg>"
    )


def _rect(x: float, y: float, w: float, h: float, color: str, tip: str) -> str:
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{h:.1f}" fill="{color}">'
        f"<title>{_e(tip)}</title></rect>"
    )


def _label(x: float, y: float, text: str, anchor: str = "start") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" dominant-baseline="middle">{_e(text)}</text>'


def _stage_label(index: int, name: str) -> str:
    text = f"{index}. {name}"
    return text if len(text) <= 32 else text[:31] + "…"


def rows_chart(stages: list[dict[str, Any]]) -> str:
    """Stacked bars per stage: rows kept, removed, and added (readers, fan-out stages)."""
    scale = max([max(int(s.get("rows_in") or 0), int(s.get("rows_out") or 0)) for s in stages] + [1])
    body: list[str] = []
    for i, stage in enumerate(stages):
        y = 10 + i * _ROW_H
        name = str(stage.get("stage_name"))
        kind, kept, removed, added = stage_rows(stage)
        body.append(_label(_LABEL_W - 8, y + 9, _stage_label(i + 1, name), "end"))
        x = float(_LABEL_W)
        if kind == "convert":
            rows_in, rows_out = int(stage.get("rows_in") or 0), int(stage.get("rows_out") or 0)
            width = _BAR_W * rows_in / scale
            body.append(_rect(x, y, width, 18, _CONVERT, f"{name}: {rows_in:,} rows in, {rows_out:,} out"))
            body.append(_label(x + width + 6, y + 9, f"{rows_in:,} in, {rows_out:,} out (another unit)"))
            continue
        for amount, color, what in ((kept, _KEPT, "kept"), (removed, _REMOVED, "removed"), (added, _ADDED, "added")):
            if amount:
                width = _BAR_W * amount / scale
                body.append(_rect(x, y, width, 18, color, f"{name}: {amount:,} rows {what}"))
                x += width
        summary = f"{kept + added:,} out"
        if removed:
            summary += f", {removed:,} removed"
        body.append(_label(x + 6, y + 9, summary))
    return _svg(20 + len(stages) * _ROW_H, body, "rows kept and removed per stage")


def _edge_text(value: float) -> str:
    return "-inf" if value == -math.inf else "inf" if value == math.inf else f"{value:,g}"


def statistics_section(stages: list[dict[str, Any]]) -> str:
    """A bar chart per histogram and a line per category count that stages logged as metrics
    (`<measure>.hist.[lo,hi)`, `<field>.count.<value>`: see `CorpusStatistics`); "" when none."""
    parts: list[str] = []
    for stage in stages:
        metrics = stage.get("custom_metrics") or {}
        histograms = histograms_from_metrics(metrics)
        categories = categories_from_metrics(metrics)
        if not histograms and not categories:
            continue
        parts.append(f'<h3>Statistics of stage <span class="name">{_e(stage.get("stage_name"))}</span></h3>')
        for measure, buckets in histograms.items():
            filled = [i for i, b in enumerate(buckets) if b.count]
            if not filled:
                continue
            shown = buckets[filled[0] : filled[-1] + 1]
            total = sum(b.count for b in shown)
            peak = max(b.count for b in shown)
            body: list[str] = []
            for i, bucket in enumerate(shown):
                y = 10 + i * _ROW_H
                span = f"[{_edge_text(bucket.lo)}, {_edge_text(bucket.hi)})"
                width = _BAR_W * bucket.count / peak if peak else 0.0
                body.append(_label(_LABEL_W - 8, y + 9, span, "end"))
                body.append(_rect(float(_LABEL_W), y, width, 18, _KEPT, f"{measure} {span}: {bucket.count:,.0f}"))
                share = f"{bucket.count:,.0f} ({100 * bucket.count / total:.1f}%)"
                body.append(_label(_LABEL_W + width + 6, y + 9, share))
            parts.append(f"<p>{_e(measure)}: {total:,.0f} values</p>")
            parts.append(_svg(20 + len(shown) * _ROW_H, body, f"histogram of {measure}"))
        for field, pairs in categories.items():
            total = sum(count for _, count in pairs) or 1.0
            top = ", ".join(f"{_e(value)} {count:,.0f} ({100 * count / total:.1f}%)" for value, count in pairs[:10])
            parts.append(f"<p>{_e(field)}: {top}</p>")
    return "".join(parts)


def time_chart(stages: list[dict[str, Any]]) -> str:
    """Stacked bars per stage: busy seconds and idle seconds of its actors."""
    totals = [float(s.get("busy_s") or 0) + float(s.get("idle_s") or 0) for s in stages]
    scale = max([*totals, 1e-9])
    body: list[str] = []
    for i, stage in enumerate(stages):
        y = 10 + i * _ROW_H
        name = str(stage.get("stage_name"))
        busy, idle = float(stage.get("busy_s") or 0), float(stage.get("idle_s") or 0)
        body.append(_label(_LABEL_W - 8, y + 9, _stage_label(i + 1, name), "end"))
        busy_w, idle_w = _BAR_W * busy / scale, _BAR_W * idle / scale
        body.append(_rect(_LABEL_W, y, busy_w, 18, _BUSY, f"{name}: {busy:.2f} s busy"))
        body.append(_rect(_LABEL_W + busy_w, y, idle_w, 18, _IDLE, f"{name}: {idle:.2f} s idle"))
        body.append(_label(_LABEL_W + busy_w + idle_w + 6, y + 9, f"{busy:.2f} s busy, {idle:.2f} s idle"))
    return _svg(20 + len(stages) * _ROW_H, body, "actor time per stage")


def timeline_chart(report: dict[str, Any]) -> str:
    """One bar per stage from its first batch start to its last batch end, on the run's time axis.

    Stage windows on the run's clock (epoch seconds, like `started_at`) are drawn from the start
    of the run; windows on another clock (e.g. monotonic seconds) from the earliest stage start.
    """
    stages = report.get("stages") or []
    ends = [s.get("last_end") for s in stages if isinstance(s.get("last_end"), int | float)]
    starts = [s.get("first_start") for s in stages if isinstance(s.get("first_start"), int | float)]
    start = report.get("started_at")
    finish = report.get("finished_at")
    same_clock = isinstance(start, int | float) and all(abs(t - start) < 7 * 86400 for t in starts)
    if not same_clock:
        start = min(starts) if starts else 0.0
        finish = None
    span_end = max([*ends, finish if isinstance(finish, int | float) else start])
    span = max(span_end - start, 1e-6)
    body: list[str] = []
    axis_y = 10 + len(stages) * _ROW_H + 4
    for i, stage in enumerate(stages):
        y = 10 + i * _ROW_H
        name = str(stage.get("stage_name"))
        body.append(_label(_LABEL_W - 8, y + 9, _stage_label(i + 1, name), "end"))
        first, last = stage.get("first_start"), stage.get("last_end")
        if isinstance(first, int | float) and isinstance(last, int | float):
            x0 = _LABEL_W + _BAR_W * (first - start) / span
            width = max(_BAR_W * (last - first) / span, 1.5)
            tip = f"{name}: active {first - start:.2f} s to {last - start:.2f} s"
            body.append(_rect(x0, y, width, 18, _ACTIVE, tip))
            body.append(_label(x0 + width + 6, y + 9, f"{last - first:.2f} s"))
        else:
            body.append(_label(_LABEL_W + 4, y + 9, "never active"))
    body.append(f'<line x1="{_LABEL_W}" y1="{axis_y}" x2="{_LABEL_W + _BAR_W}" y2="{axis_y}" stroke="#52606d" />')
    for k in range(6):
        x = _LABEL_W + _BAR_W * k / 5
        body.append(f'<line x1="{x:.1f}" y1="{axis_y}" x2="{x:.1f}" y2="{axis_y + 4}" stroke="#52606d" />')
        body.append(_label(x, axis_y + 14, f"{span * k / 5:.1f} s", "middle"))
    return _svg(axis_y + 26, body, "timeline of stage activity")


_COLUMNS: list[tuple[str, str]] = [
    ("tasks_in", "tasks in"),
    ("tasks_out", "tasks out"),
    ("tasks_filtered", "filtered"),
    ("tasks_failed", "failed"),
    ("tasks_discarded", "discarded"),
    ("retries", "retries"),
    ("rows_in", "rows in"),
    ("rows_out", "rows out"),
    ("rows_removed", "rows removed"),
    ("rows_failed", "rows failed"),
    ("batches", "batches"),
    ("actors_started", "actors"),
    ("actors_restarted", "restarted"),
    ("busy_s", "busy s"),
    ("idle_s", "idle s"),
    ("active_s", "active s"),
    ("rows_per_s", "rows/s"),
    ("max_queued", "max queued"),
    ("balanced", "balanced"),
]


def stage_table(stages: list[dict[str, Any]]) -> str:
    """The per-stage table."""
    head = '<tr><th>#</th><th class="name">stage</th>' + "".join(f"<th>{_e(t)}</th>" for _, t in _COLUMNS) + "</tr>"
    rows = []
    for i, stage in enumerate(stages, start=1):
        values = dict(stage)
        values["rows_removed"] = _rows_split(stage)[1]
        cells = "".join(
            f'<td data-key="{key}">{_num(values.get(key), 0 if key == "rows_per_s" else 2)}</td>' for key, _ in _COLUMNS
        )
        rows.append(f'<tr><td>{i}</td><td class="name">{_e(stage.get("stage_name"))}</td>{cells}</tr>')
    return f"<table>{head}{''.join(rows)}</table>"


def custom_metrics_table(stages: list[dict[str, Any]]) -> str:
    """One row per (stage, custom metric) the stages logged; "" when none did."""
    rows = [
        f'<tr><td class="name">{_e(stage.get("stage_name"))}</td><td class="name">{_e(name)}</td>'
        f"<td>{_num(value, 2 if isinstance(value, float) and not float(value).is_integer() else 0)}</td></tr>"
        for stage in stages
        for name, value in sorted((stage.get("custom_metrics") or {}).items())
    ]
    if not rows:
        return ""
    head = '<tr><th class="name">stage</th><th class="name">metric</th><th>total</th></tr>'
    return f'<table class="custom-metrics">{head}{"".join(rows)}</table>'


def side_outputs_section(stages: list[dict[str, Any]]) -> str:
    """Per stage that wrote side outputs (removed documents...): their paths and its top removal reasons."""
    items = []
    for stage in stages:
        outputs = stage.get("side_outputs") or {}
        if not outputs:
            continue
        links = "; ".join(
            f'{_e(label)}: <a href="{_e(_file_url(path))}"><code>{_e(path)}</code></a>'
            for label, path in outputs.items()
        )
        reasons = ", ".join(f"{_e(name)} {_num(value, 0)}" for name, value in removal_reasons(stage))
        reasons_text = f"<br>top reasons: {reasons}" if reasons else ""
        items.append(f'<li><span class="name">{_e(stage.get("stage_name"))}</span> — {links}{reasons_text}</li>')
    return f'<ul class="side-outputs">{"".join(items)}</ul>' if items else ""


def _file_url(path: str) -> str:
    return path if "://" in path else Path(path).resolve().as_uri()


def run_totals(stages: list[dict[str, Any]]) -> dict[str, int]:
    """Rows read (out of the leading reader stages), removed (by all stages), written or returned."""
    rows_read = 0
    for stage in stages:
        kind = stage_rows(stage)[0]
        if kind == "filter":
            break
        rows_read = int(stage.get("rows_out") or 0) if kind == "expand" else rows_read
    last = stages[-1] if stages else {}
    kind = stage_rows(last)[0] if stages else "filter"
    rows_final = int(last.get("rows_in") or 0) if kind == "convert" else int(last.get("rows_out") or 0)
    return {
        "rows_read": rows_read,
        "rows_removed": sum(stage_rows(s)[2] for s in stages),
        "rows_final": rows_final,
        "tasks_failed": sum(int(s.get("tasks_failed") or 0) for s in stages),
        "rows_failed": sum(int(s.get("rows_failed") or 0) for s in stages),
        "retries": sum(int(s.get("retries") or 0) for s in stages),
        "actors_started": sum(int(s.get("actors_started") or 0) for s in stages),
    }


def _cards(report: dict[str, Any]) -> str:
    stages = report.get("stages") or []
    totals = run_totals(stages)
    # fused stages share their actors: the run's own count is the true total
    totals["actors_started"] = (report.get("extra") or {}).get("actors_started_total") or totals["actors_started"]
    items = [
        ("wall time", f"{float(report.get('wall_s') or 0):.2f} s"),
        ("stages", _num(len(stages))),
        ("rows read", _num(totals["rows_read"])),
        ("rows removed", _num(totals["rows_removed"])),
        ("rows at the end", _num(totals["rows_final"])),
        ("failed tasks", _num(totals["tasks_failed"])),
        ("rows of failed tasks", _num(totals["rows_failed"])),
        ("retries", _num(totals["retries"])),
        ("actors started", _num(totals["actors_started"])),
    ]
    return (
        '<div class="cards">'
        + "".join(f'<div class="card"><div class="v">{v}</div><div class="k">{_e(k)}</div></div>' for k, v in items)
        + "</div>"
    )


def _legend(*items: tuple[str, str]) -> str:
    return (
        '<div class="legend">'
        + "".join(f'<span style="background:{color}"></span>{_e(text)}' for color, text in items)
        + "</div>"
    )


def render_report_html(report: dict[str, Any]) -> str:
    """The HTML page of a run report (the dict of `RunReport.to_dict()` / `report.json`)."""
    stages = list(report.get("stages") or [])
    status = str(report.get("status") or "unknown")
    run_id = report.get("run_id") or "run"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>raycurator run {_e(run_id)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f'<h1>raycurator run {_e(run_id)} <span class="badge {_e(status)}">{_e(status)}</span></h1>',
        f'<p class="meta">executor {_e(report.get("executor"))}, mode {_e(report.get("mode"))}; '
        f"started {_when(report.get('started_at'))}, finished {_when(report.get('finished_at'))}; "
        f"wall time {float(report.get('wall_s') or 0):.2f} s; "
        f"every input accounted for: {_num(report.get('balanced'))}</p>",
    ]
    if report.get("log_dir"):
        parts.append(f'<p class="meta">log directory: <code>{_e(report["log_dir"])}</code></p>')
    if report.get("error"):
        parts.append(f'<h2>Error</h2><div class="error">{_e(report["error"])}</div>')
    if report.get("failure_ledger"):
        ledger = _e(report["failure_ledger"])
        parts.append(f'<p class="meta">failed inputs were skipped and recorded in <code>{ledger}</code></p>')
    parts.append(_cards(report))
    parts.append("<h2>Stages</h2>")
    if stages:
        parts.append(stage_table(stages))
        side_outputs = side_outputs_section(stages)
        if side_outputs:
            parts.append("<h2>Removed documents and other side outputs</h2>")
            parts.append(side_outputs)
        metrics = custom_metrics_table(stages)
        if metrics:
            parts.append("<h2>Custom metrics per stage</h2>")
            parts.append(metrics)
        parts.append("<h2>Rows kept and removed per stage</h2>")
        parts.append(
            _legend(
                (_KEPT, "kept"),
                (_REMOVED, "removed"),
                (_ADDED, "added (readers, fan-out)"),
                (_CONVERT, "consumed (writers: rows in, files out)"),
            )
        )
        parts.append(rows_chart(stages))
        statistics = statistics_section(stages)
        if statistics:
            parts.append("<h2>Corpus statistics</h2>")
            parts.append(statistics)
        parts.append("<h2>Actor time per stage</h2>")
        parts.append(_legend((_BUSY, "busy"), (_IDLE, "idle")))
        parts.append(time_chart(stages))
        parts.append("<h2>Timeline of stage activity</h2>")
        parts.append(timeline_chart(report))
    else:
        parts.append('<p class="meta">no stage ran</p>')
    if report.get("extra"):
        parts.append("<h2>Extra</h2>")
        parts.append(f"<pre>{_e(json.dumps(report['extra'], indent=2, default=str))}</pre>")
    data = json.dumps(report, indent=2, default=str)
    parts.append(f"<h2>report.json</h2><details><summary>raw figures</summary><pre>{_e(data)}</pre></details>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_report_html(run_dir: str | os.PathLike[str], report: dict[str, Any] | None = None) -> Path:
    """Write `report.html` into `run_dir` (from `report`, else from the `report.json` there)."""
    directory = Path(run_dir)
    if report is None:
        report = json.loads((directory / "report.json").read_text(encoding="utf-8"))
    path = directory / "report.html"
    write_text_atomic(path, render_report_html(report))
    return path
