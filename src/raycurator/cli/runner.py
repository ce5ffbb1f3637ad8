"""Running a built pipeline for the CLI: logging set-up, errors as one paragraph, the run summary."""

from __future__ import annotations

import logging
import signal
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.logging import RichHandler

from raycurator.backends.report_html import write_report_html
from raycurator.cli.build import BuiltPipeline
from raycurator.cli.report import print_report, printable
from raycurator.errors import RunTerminated, StageExecutionError
from raycurator.utils.startup import format_breakdown, overhead_share
from raycurator.utils.storage import is_url

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_TERMINATED = 128 + signal.SIGTERM  # 143

logger = logging.getLogger("raycurator.cli")


def console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return Console(file=stream)
    return Console(file=stream, width=160, no_color=True)


class PrintableFormatter(logging.Formatter):
    """Formats log records with control characters escaped (messages may quote user data)."""

    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record))


def setup_logging(debug: bool = False, quiet: bool = False) -> None:
    """Send raycurator's log records to stderr (rich on a terminal, plain lines otherwise)."""
    level = logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO
    handler: logging.Handler
    if sys.stderr.isatty():
        handler = RichHandler(console=Console(file=sys.stderr), show_path=debug, markup=False)
        handler.setFormatter(PrintableFormatter("%(name)s: %(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(PrintableFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    root = logging.getLogger("raycurator")
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False


def fail(message: str, code: int, debug_text: str | None = None) -> typer.Exit:
    """Print `message` (and `debug_text` when given) to stderr; return the Exit to raise."""
    err = console(stderr=True)
    if debug_text:
        err.print(printable(debug_text.rstrip()), markup=False, highlight=False, soft_wrap=True)
    err.print(f"Error: {printable(message)}", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _error_paragraph(error: BaseException, pipeline_name: str) -> str:
    if isinstance(error, StageExecutionError):
        ids = ", ".join(error.task_ids[:5]) + (" ..." if len(error.task_ids) > 5 else "")
        text = f"pipeline '{pipeline_name}' failed in stage '{error.stage_name}' on task(s) [{ids}]"
        if error.source_files:
            files = ", ".join(error.source_files[:3]) + (" ..." if len(error.source_files) > 3 else "")
            text += f" read from [{files}]"
        return text + f": {error.error_type}: {error.error_message.strip()}"
    message = str(error).strip()  # a StageExecutionError is handled above
    return f"pipeline '{pipeline_name}' failed: {type(error).__name__}: {message}"


def _debug_trace(error: BaseException) -> str:
    if isinstance(error, StageExecutionError) and error.traceback_text:
        return "--- traceback in the stage ---\n" + error.traceback_text
    return "".join(traceback.format_exception(error))


@dataclass
class RunOutcome:
    """What a finished (successful) run left: its report and output tasks."""

    run_dir: Path | str | None  # a URL when the run folder is on object storage
    report: dict[str, Any] | None
    results: list[Any] = field(default_factory=list)


def execute_built(built: BuiltPipeline, debug: bool) -> RunOutcome:
    """Run a built pipeline, write report.html next to report.json and print the summary.

    A failed or interrupted run raises `typer.Exit` (1 or 130) after printing a one-paragraph
    error naming the stage, tasks, files and cause (`debug` adds the traceback).
    """
    out = console()
    out.print(
        f"Running pipeline '{built.pipeline.name}': {len(built.stages)} stage(s) on the "
        f"{built.executor_type.name} executor",
        markup=False,
        highlight=False,
    )
    code, error = EXIT_OK, None
    results: list[Any] = []
    measure = getattr(built.executor, "measure_from_process_start", None)
    if callable(measure):  # one run per process: its start-up breakdown counts from the process start
        measure()
    previous = signal.signal(signal.SIGTERM, _terminate)  # SIGTERM stops the run like Ctrl-C
    try:
        results = built.pipeline.run(executor=built.executor)
    except RunTerminated:
        code = EXIT_TERMINATED
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    except Exception as exc:
        code, error = EXIT_FAILED, exc
    finally:
        signal.signal(signal.SIGTERM, previous)
    run_dir, report = _finish_report(built, out)
    if code in (EXIT_INTERRUPTED, EXIT_TERMINATED):
        what = "terminated (SIGTERM)" if code == EXIT_TERMINATED else "interrupted"
        raise fail(what + (f"; partial report in {run_dir}" if run_dir else ""), code)
    if error is not None:
        where = f" The run's report is in {run_dir}." if run_dir else ""
        hint = "" if debug else " Re-run with --debug to see the traceback."
        raise fail(
            _error_paragraph(error, built.pipeline.name) + "." + where + hint,
            code,
            _debug_trace(error) if debug else None,
        )
    _print_outputs(results, out)
    _print_startup(report, out, debug)
    return RunOutcome(run_dir, report, list(results or []))


def _terminate(signum: int, frame: Any) -> None:
    raise RunTerminated(f"received signal {signum}")


def _finish_report(built: BuiltPipeline, out: Console) -> tuple[Path | str | None, dict[str, Any] | None]:
    report = getattr(built.executor, "last_report", None)
    if report is None:
        out.print(f"(the {built.executor_type.name} executor keeps no run report)", markup=False)
        return None, None
    data = report.to_dict()
    if not data.get("log_dir"):  # kept in memory only (the local executor without a log_dir)
        print_report(data, out, None)
        out.print(f"(the {built.executor_type.name} executor writes no run report files)", markup=False)
        return None, data
    if is_url(data["log_dir"]):  # on object storage: the executor uploaded report.json and report.html
        print_report(data, out, data["log_dir"])
        return data["log_dir"], data
    run_dir = Path(data["log_dir"])
    try:
        if not (run_dir / "report.html").exists():
            write_report_html(run_dir, data)
    except OSError as error:
        logger.warning("could not write report.html to %s: %s", run_dir, error)
    print_report(data, out, run_dir)
    return run_dir, data


#: A run that spent more than this share of its time starting up and winding down gets a hint.
STARTUP_HINT_SHARE = 0.5
#: ... and only when starting Ray took at least this long.
STARTUP_HINT_MIN_RAY_S = 2.0


def _print_startup(report: dict[str, Any] | None, out: Console, debug: bool) -> None:
    """With `debug`, the run's start-up breakdown; always, a hint when starting Ray took most of the run."""
    startup = ((report or {}).get("extra") or {}).get("startup") or {}
    if debug:
        for line in format_breakdown(startup):
            out.print(line, markup=False, highlight=False)
    overhead, total = overhead_share(startup)
    ray_start = float((startup.get("spans_s") or {}).get("Ray start / connect", 0.0))
    if (
        startup.get("ray_started_here")
        and total > 0
        and overhead / total > STARTUP_HINT_SHARE
        and ray_start >= STARTUP_HINT_MIN_RAY_S
    ):
        out.print(
            f"note: {overhead:.1f} of this run's {total:.1f} s went to starting up and shutting down "
            f"({ray_start:.1f} s starting Ray). Start a local cluster once with `raycurator up` and run with "
            "`--address auto`: later runs skip that (`raycurator down` stops it).",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


def _print_outputs(results: list[Any], out: Console) -> None:
    files = [f for task in results if type(task).__name__ == "FileGroupTask" for f in task.data]
    if files:
        folders = sorted({f.rsplit("/", 1)[0] if is_url(f) else str(Path(f).parent) for f in files})
        where = folders[0] if len(folders) == 1 else f"{len(folders)} folders"
        out.print(f"output: {len(files)} file(s) in {where}", markup=False, highlight=False, soft_wrap=True)
    elif results:
        rows = sum(getattr(t, "num_items", 0) for t in results)
        out.print(f"output: {len(results)} task(s), {rows:,} item(s) returned", markup=False, highlight=False)
