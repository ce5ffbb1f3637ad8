"""The `raycurator` command: run and describe YAML pipelines, list stages, the demo, run reports.

Exit codes: 0 success; 1 the run failed; 2 the command line or the pipeline config is invalid
(nothing was started); 130 interrupted (143: SIGTERM). Errors are printed as one paragraph; `--debug` adds
the traceback. Logging handlers are configured here only (library code never does).
"""

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from raycurator import __version__
from raycurator.cli import classes
from raycurator.cli.build import EXECUTOR_TYPES, BuiltPipeline, CliOverrides, build
from raycurator.cli.config import ConfigError, load_config
from raycurator.cli.dedup import dedup
from raycurator.cli.report import find_run_dir, load_report, print_report
from raycurator.cli.runner import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, console, execute_built, fail, setup_logging
from raycurator.cli.train_quality import train_quality
from raycurator.stages.base import CompositeStage

app = typer.Typer(
    name="raycurator",
    help="Curate text datasets with pipelines of stages on Ray. Pipelines are YAML files; see `raycurator demo`.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def load_and_build(pipeline_file: Path, overrides: list[str] | None, cli: CliOverrides, debug: bool) -> BuiltPipeline:
    """Read, check and build a pipeline file, exiting with code 2 on config errors.

    The pipeline file's folder (and `--working-dir`) come first on `sys.path`, so stages named
    by a dotted path in the user's own module next to the file import here.
    """
    for folder in (cli.working_dir, str(pipeline_file.resolve().parent)):
        if folder and os.path.isdir(folder) and os.path.abspath(folder) not in sys.path:
            sys.path.insert(0, os.path.abspath(folder))
    try:
        config = load_config(pipeline_file, overrides)
        return build(config, cli)
    except ConfigError as error:
        raise fail(str(error), EXIT_CONFIG, traceback.format_exc() if debug else None) from None


def _version_callback(value: bool) -> None:
    if value:
        print(f"raycurator {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Curate text datasets with pipelines of stages on Ray."""
    _resolve_env_address()


SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        "-s",
        help="Override a config value: dotted.key=value, e.g. stages.1.params.min_words=20 or "
        "executor.config.mode=stage_by_stage (values are read as YAML). Repeatable.",
    ),
]
DebugOption = Annotated[bool, typer.Option("--debug", help="Debug logging and full tracebacks.")]


@app.command()
def run(
    pipeline_file: Annotated[Path, typer.Argument(metavar="PIPELINE.yaml", help="The pipeline file.")],
    set_: SetOption = None,
    address: Annotated[
        str | None,
        typer.Option(
            "--address",
            help="Ray cluster address (default: RAY_ADDRESS, else embedded Ray); `auto`: the `raycurator up` cluster.",
        ),
    ] = None,
    checkpoint_dir: Annotated[
        str | None,
        typer.Option("--checkpoint-dir", help="Record finished input partitions here; a rerun skips them."),
    ] = None,
    start_over: Annotated[
        bool, typer.Option("--start-over", help="Discard the checkpoint in --checkpoint-dir instead of resuming.")
    ] = False,
    log_dir: Annotated[
        str | None, typer.Option("--log-dir", help="Where run folders (report.json/html) go (executor log_dir).")
    ] = None,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No live progress display.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only warnings and errors in the log.")] = False,
    debug: DebugOption = False,
    insecure: Annotated[
        bool,
        typer.Option(
            "--insecure",
            help="Allow a Ray cluster reachable off this machine with authentication off (RAY_AUTH_MODE=disabled).",
        ),
    ] = False,
    working_dir: Annotated[
        str | None,
        typer.Option(
            "--working-dir",
            help="A folder (or zip/URL) of your code shipped to every worker of the cluster (runtime_env working_dir).",
        ),
    ] = None,
) -> None:
    """Check a pipeline file, then run it; print the per-stage summary and where the reports are."""
    setup_logging(debug, quiet)
    if start_over and checkpoint_dir is None:
        raise fail("--start-over needs --checkpoint-dir", EXIT_CONFIG)
    if working_dir is not None and "://" not in working_dir:
        if not os.path.exists(working_dir):
            raise fail(f"--working-dir {working_dir}: no such folder or zip file", EXIT_CONFIG)
        working_dir = os.path.abspath(working_dir)
    from raycurator.cli.cluster import resolve_address

    cli = CliOverrides(
        resolve_address(address),
        checkpoint_dir,
        log_dir,
        False if no_progress else None,
        True if start_over else None,
        True if insecure else None,
        working_dir,
    )
    built = load_and_build(pipeline_file, set_, cli, debug)
    execute_built(built, debug)
    raise typer.Exit(EXIT_OK)


def without_secrets(value: Any) -> Any:
    """`value` with the values under secret-looking keys (keys, tokens, passwords) replaced, for printing."""
    from raycurator.backends.checkpoint import REDACTED, SECRET_NAME

    if isinstance(value, dict):
        return {k: REDACTED if SECRET_NAME.search(str(k)) else without_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_secrets(v) for v in value]
    return value


def describe_data(built: BuiltPipeline) -> dict[str, Any]:
    """The built pipeline as plain data: stages as written, their parts, the executor."""
    entries = []
    for entry, stage in zip(built.config.stages, built.pipeline.stages, strict=True):
        item: dict[str, Any] = {"stage": entry["stage"], "params": without_secrets(entry.get("params") or {})}
        if isinstance(stage, CompositeStage):
            item["composite"] = True
            item["parts"] = [part.describe() for part in stage.decompose_and_apply_with()]
        else:
            item.update(stage.describe())
        entries.append(item)
    return {
        "name": built.pipeline.name,
        "description": built.pipeline.description,
        "source": built.config.source,
        "executor": {
            "type": built.executor_type.name,
            "config": built.executor_config,
            "changed": built.executor_config_changed,
        },
        "stages": entries,
        "built_stages": [s.name for s in built.stages],
    }


def _describe_line(info: dict[str, Any], indent: str) -> list[str]:
    resources = ", ".join(f"{k}={v}" for k, v in info["resources"].items() if v) or "none"
    barrier = "; barrier" if info["barrier"] else ""
    lines = [f"{indent}resources: {resources}; batch_size: {info['batch_size']}{barrier}"]
    (in_attrs, in_cols), (out_attrs, out_cols) = info["inputs"], info["outputs"]
    lines.append(f"{indent}inputs: attrs={in_attrs} columns={in_cols}; outputs: attrs={out_attrs} columns={out_cols}")
    return lines


@app.command()
def describe(
    pipeline_file: Annotated[Path, typer.Argument(metavar="PIPELINE.yaml", help="The pipeline file.")],
    set_: SetOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
    debug: DebugOption = False,
) -> None:
    """Show the pipeline as built (composites expanded), resources, batch sizes, inputs/outputs; runs nothing."""
    setup_logging(debug, quiet=not debug)
    built = load_and_build(pipeline_file, set_, CliOverrides(), debug)
    data = describe_data(built)
    if as_json:
        print(json.dumps(data, indent=2, default=str))
        return
    lines = [f"Pipeline: {data['name']}"]
    if data["description"]:
        lines.append(f"Description: {data['description']}")
    changed = data["executor"]["changed"]
    settings = ", ".join(f"{k}={v!r}" for k, v in changed.items()) or "default settings"
    lines.append(f"Executor: {data['executor']['type']} ({settings})")
    lines.append(f"Stages: {len(data['stages'])} in the file, {len(data['built_stages'])} when built")
    number = 0
    for index, entry in enumerate(data["stages"]):
        params = json.dumps(entry["params"], default=str)
        if entry.get("composite"):
            lines.append(f"  [{index}] {entry['stage']} (composite) {params}")
            for part in entry["parts"]:
                number += 1
                lines.append(f"      {number}. {part['name']} ({part['class']})")
                lines.extend(_describe_line(part, "         "))
        else:
            number += 1
            lines.append(f"  [{index}] {number}. {entry['name']} ({entry['class']}) {params}")
            lines.extend(_describe_line(entry, "         "))
    print("\n".join(lines))


@app.command()
def stages(
    name: Annotated[str | None, typer.Argument(help="Show the details of this stage or helper class.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the registered stages and the helper classes (filters, modifiers) usable in YAML."""
    setup_logging(quiet=True)
    stage_map = classes.stage_classes()
    helper_map = classes.helper_classes()
    if name is not None:
        cls = stage_map.get(name) or helper_map.get(name)
        if cls is None:
            from raycurator.cli.config import close_matches

            raise fail(
                f"no stage or helper class '{name}'.{close_matches(name, [*stage_map, *helper_map])}",
                EXIT_CONFIG,
            )
        _print_class(cls, "stage" if name in stage_map else "helper")
        return
    if as_json:
        payload = {
            "stages": {n: _class_data(c) for n, c in stage_map.items()},
            "helpers": {n: _class_data(c) for n, c in helper_map.items()},
            "executors": {n: t.description for n, t in EXECUTOR_TYPES.items()},
            "import_problems": classes.IMPORT_PROBLEMS,
        }
        print(json.dumps(payload, indent=2, default=str))
        return
    out = console()
    out.print(_class_table(f"Stages ({len(stage_map)})", stage_map))
    out.print(_class_table(f"Filters, modifiers and other helper classes ({len(helper_map)})", helper_map))
    out.print(
        "Use helpers as parameter values, e.g. `filter_obj: {WordCountFilter: {min_words: 50}}`. "
        "`raycurator stages NAME` shows one class in full.",
        markup=False,
        highlight=False,
    )
    out.print("Executors: " + "; ".join(f"{n} ({t.description})" for n, t in EXECUTOR_TYPES.items()), markup=False)
    for module, problem in classes.IMPORT_PROBLEMS.items():
        out.print(f"warning: could not import {module}: {problem}", markup=False, highlight=False)


def _class_data(cls: type) -> dict[str, Any]:
    params, takes_kwargs = classes.signature_of(cls)
    return {
        "module": cls.__module__,
        "description": classes.first_doc_line(cls),
        "params": [
            {"name": p.name, "type": p.annotation_text, **({} if p.required else {"default": repr(p.default)})}
            for p in params
        ],
        "takes_kwargs": takes_kwargs,
    }


def _class_table(title: str, class_map: dict[str, type]) -> Table:
    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("name", no_wrap=True)
    table.add_column("description")
    table.add_column("parameters")
    for cls_name, cls in class_map.items():
        table.add_row(Text(cls_name), Text(classes.first_doc_line(cls)), Text(classes.format_params(cls)))
    return table


def _print_class(cls: type, kind: str) -> None:
    import inspect

    out = console()
    out.print(f"{cls.__name__} ({kind}, {cls.__module__})", markup=False, highlight=False)
    doc = inspect.getdoc(cls) or ""
    if doc:
        out.print(doc, markup=False, highlight=False)
    params, takes_kwargs = classes.signature_of(cls)
    out.print("Parameters:" if params or takes_kwargs else "Parameters: none", markup=False)
    for p in params:
        text = f"  {p.name}" + (f": {p.annotation_text}" if p.annotation_text else "")
        text += " (required)" if p.required else f" = {p.default!r}"
        out.print(text, markup=False, highlight=False)
    if takes_kwargs:
        out.print("  **kwargs", markup=False)


@app.command()
def demo(
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the corpus, output and reports.")] = Path(
        "demo_output"
    ),
    num_docs: Annotated[int, typer.Option("--docs", min=50, help="Documents in the generated corpus.")] = 3000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the generated corpus.")] = 1234,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No live progress display.")] = False,
    debug: DebugOption = False,
) -> None:
    """Generate a sample corpus (with junk and duplicates) and curate it with the default pipeline."""
    from raycurator.cli.demo import DemoError, run_demo

    setup_logging(debug, quiet=not debug)
    try:
        code = run_demo(output, num_docs=num_docs, seed=seed, show_progress=not no_progress, debug=debug)
    except DemoError as error:
        raise fail(str(error), EXIT_CONFIG) from None
    raise typer.Exit(code)


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="A run folder (or a log folder: its newest run).")],
    html: Annotated[bool, typer.Option("--html", help="(Re)write report.html from report.json.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print report.json.")] = False,
) -> None:
    """Print the summary of a finished run from its report.json."""
    try:
        directory = find_run_dir(run_dir)
        data = load_report(directory)
    except (OSError, ValueError) as error:
        raise fail(f"cannot read the run report: {error}", EXIT_FAILED) from None
    if as_json:
        print(json.dumps(data, indent=2, default=str))
        return
    try:
        if html or not (directory / "report.html").exists():
            from raycurator.backends.report_html import write_report_html

            write_report_html(directory, data)
        print_report(data, console(), directory)
    except (TypeError, ValueError, AttributeError, KeyError) as error:
        raise fail(
            f"cannot read the run report: {directory / 'report.json'} is damaged ({type(error).__name__}: {error})",
            EXIT_FAILED,
        ) from None


app.command("train-quality")(train_quality)
app.command("dedup")(dedup)


def _resolve_env_address() -> None:
    """RAY_ADDRESS=auto means the `raycurator up` cluster when one runs, as `--address auto` does."""
    import os

    if os.environ.get("RAY_ADDRESS", "").strip() == "auto":
        from raycurator.cli.cluster import resolve_address

        os.environ["RAY_ADDRESS"] = resolve_address("auto") or "auto"


@app.command()
def up(
    num_cpus: Annotated[
        int | None, typer.Option("--num-cpus", min=1, help="CPUs the cluster offers (default: all of this machine).")
    ] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port of its GCS (default: a free one).")] = None,
) -> None:
    """Start a local Ray cluster (loopback only) that later `run --address auto` calls join."""
    from raycurator.cli.cluster import ClusterError, start_cluster, state_file

    setup_logging(quiet=True)
    try:
        cluster, started = start_cluster(num_cpus, port)
    except ClusterError as error:
        raise fail(str(error), EXIT_FAILED) from None
    what = "started" if started else "already running"
    print(f"local Ray cluster {what} at {cluster.address} (process {cluster.pid}; state in {state_file()})")
    print("run pipelines on it with: raycurator run PIPELINE.yaml --address auto")
    print("stop it with: raycurator down")


@app.command()
def down() -> None:
    """Stop the local Ray cluster started by `raycurator up`."""
    from raycurator.cli.cluster import ClusterError, stop_cluster

    setup_logging(quiet=True)
    try:
        cluster = stop_cluster()
    except ClusterError as error:
        raise fail(str(error), EXIT_FAILED) from None
    if cluster is None:
        print("no local cluster recorded (nothing to stop)")
    else:
        print(f"stopped the local Ray cluster at {cluster.address}")


def console_main() -> None:
    """The `raycurator` command's entry point: run the app, then leave without the interpreter's
    slow teardown (freeing every module and Ray's native objects took 1-2 s after a run).

    Exit handlers still run and the standard streams are flushed first; everything the command
    writes is closed by then (reports and outputs are written atomically). Only a finished command
    (`SystemExit`) leaves this way; anything else propagates as usual.
    """
    import atexit
    import os
    import sys

    try:
        app(prog_name="raycurator")
    except SystemExit as finished:
        code = finished.code
        status = code if isinstance(code, int) else (0 if code is None else 1)
        if not isinstance(code, int | None):
            print(code, file=sys.stderr)
        atexit._run_exitfuncs()  # logging's flush, Ray's shutdown if still connected, ...
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(status)


if __name__ == "__main__":
    console_main()
