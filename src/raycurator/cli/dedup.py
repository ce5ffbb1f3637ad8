"""`raycurator dedup {exact|fuzzy} INPUT OUTPUT`: run a deduplication workflow from the command line.

Builds `ExactDeduplicationWorkflow` or `FuzzyDeduplicationWorkflow` from the options (any other
workflow parameter with ``--param name=value``, the value read as YAML), runs it on the chosen
executor with live progress, and prints each pass's run summary (as `raycurator run` does), the
number of duplicates and where the ids and the deduplicated documents are.
"""

from __future__ import annotations

import enum
import inspect
import traceback
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from raycurator.cli.executors import EXECUTOR_TYPES
from raycurator.cli.report import print_report
from raycurator.cli.runner import EXIT_CONFIG, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, console, fail, setup_logging


class DedupKind(enum.StrEnum):
    """Which workflow `raycurator dedup` runs."""

    exact = "exact"
    fuzzy = "fuzzy"


def workflow_class(kind: DedupKind) -> type:
    """The workflow class of `kind`."""
    if kind is DedupKind.exact:
        from raycurator.pipeline.exact_dedup import ExactDeduplicationWorkflow

        return ExactDeduplicationWorkflow
    from raycurator.pipeline.fuzzy_dedup import FuzzyDeduplicationWorkflow

    return FuzzyDeduplicationWorkflow


def parse_params(values: list[str] | None, cls: type) -> dict[str, Any]:
    """``name=value`` pairs (values as YAML) checked against the parameters of `cls`."""
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    params: dict[str, Any] = {}
    for item in values or []:
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValueError(f"--param wants name=value, got {item!r}")
        if name not in accepted:
            raise ValueError(f"{cls.__name__} has no parameter {name!r}; it takes {sorted(accepted)}")
        params[name] = yaml.safe_load(raw)
    return params


def make_executor(name: str, address: str | None, log_dir: str | None, show_progress: bool) -> Any:
    """The executor named `name` (see `raycurator run`'s `executor.type`), configured for this run."""
    if name not in EXECUTOR_TYPES:
        raise ValueError(f"unknown executor {name!r}; one of {sorted(EXECUTOR_TYPES)}")
    executor_type = EXECUTOR_TYPES[name]
    cls = executor_type.load()
    config: dict[str, Any] = {}
    if log_dir:
        config["log_dir"] = log_dir
    if address:
        if name == "local":
            raise ValueError("--address needs a Ray executor, not 'local'")
        config["address"] = address
    kwargs: dict[str, Any] = {"show_progress": show_progress} if "show_progress" in executor_type.options else {}
    return cls(config=config, **kwargs)


def dedup(
    kind: Annotated[DedupKind, typer.Argument(help="exact: equal texts; fuzzy: MinHash-LSH near duplicates.")],
    input_path: Annotated[str, typer.Argument(metavar="INPUT", help="Input directory, glob or file.")],
    output_path: Annotated[
        str, typer.Argument(metavar="OUTPUT", help="Where the duplicate ids (and deduplicated documents) go.")
    ],
    input_filetype: Annotated[str, typer.Option("--input-filetype", help="jsonl or parquet.")] = "jsonl",
    cache_path: Annotated[
        str | None, typer.Option("--cache-path", help="Intermediates (fuzzy; default OUTPUT/cache).")
    ] = None,
    text_field: Annotated[str, typer.Option("--text-field", help="Column holding the text.")] = "text",
    id_field: Annotated[
        str | None, typer.Option("--id-field", help="Column of unique ids (default: ids are assigned).")
    ] = None,
    identify_only: Annotated[
        bool, typer.Option("--identify-only", help="Only write the duplicate ids; do not write deduplicated data.")
    ] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an earlier run's output.")] = False,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="Any other workflow parameter: name=value (YAML value). Repeatable."),
    ] = None,
    executor: Annotated[
        str, typer.Option("--executor", help="ray_actor_pool (default), ray_data or local.")
    ] = "ray_actor_pool",
    address: Annotated[
        str | None, typer.Option("--address", help="Ray cluster address (default: RAY_ADDRESS, else embedded Ray).")
    ] = None,
    log_dir: Annotated[
        str | None, typer.Option("--log-dir", help="Where run folders (report.json/html) go.")
    ] = "raycurator_runs",
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No live progress display.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only warnings and errors in the log.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Debug logging and full tracebacks.")] = False,
) -> None:
    """Find (and remove) duplicate documents with the exact or fuzzy deduplication workflow."""
    setup_logging(debug, quiet)
    cls = workflow_class(kind)
    try:
        params = parse_params(param, cls)
        params.update(
            input_path=input_path,
            input_filetype=input_filetype,
            text_field=text_field,
            id_field=id_field,
            perform_removal=not identify_only,
            overwrite=overwrite,
        )
        if kind is DedupKind.fuzzy:
            params.setdefault("cache_path", cache_path or str(Path(output_path) / "cache"))
        elif cache_path is not None:
            params["cache_path"] = cache_path
        workflow = cls(output_path=output_path, **params)
        run_executor = make_executor(executor, address, log_dir, not no_progress)
    except (TypeError, ValueError) as error:
        raise fail(f"dedup: {error}", EXIT_CONFIG, traceback.format_exc() if debug else None) from None
    out = console()
    out.print(f"Running {cls.__name__} on the {executor} executor", markup=False, highlight=False)
    try:
        result = workflow.run(executor=run_executor)
    except KeyboardInterrupt:
        raise fail("interrupted", EXIT_INTERRUPTED) from None
    except Exception as error:
        raise fail(
            f"dedup failed: {type(error).__name__}: {error}", EXIT_FAILED, traceback.format_exc() if debug else None
        ) from None
    for what, report in result.run_reports.items():
        data = report.to_dict()
        out.print(f"-- {what} pass --", markup=False, highlight=False)
        print_report(data, out, Path(data["log_dir"]) if data.get("log_dir") else None)
    out.print(
        f"duplicates: {result.num_duplicates:,}, listed in {result.duplicate_ids_path} "
        f"({len(result.duplicate_id_files)} file(s)); identification {result.identification_time_s:.2f} s",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    if result.output_path:
        out.print(
            f"deduplicated documents: {len(result.output_files)} file(s) in {result.output_path}; "
            f"removal {result.removal_time_s:.2f} s",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    raise typer.Exit(EXIT_OK)
