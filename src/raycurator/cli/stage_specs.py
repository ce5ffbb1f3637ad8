"""Building the `stages:` entries of a pipeline file into configured `ProcessingStage` objects.

Covers the stage class lookup (with hints when a helper class is named instead of a stage), the
stage parameters, the per-stage `name` / `resources` / `batch_size` options, the `parts` of
composite stages, and the check that local input paths exist.
"""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path
from typing import Any

from raycurator.cli import classes
from raycurator.cli.config import Path_, close_matches
from raycurator.cli.types import describe_value
from raycurator.cli.values import INVALID, BuildContext, build_object, build_value
from raycurator.stages.base import CompositeStage, ProcessingStage
from raycurator.stages.resources import Resources

#: Parameter names holding input locations that must exist when local.
INPUT_PATH_PARAMS = frozenset(
    {"file_paths", "input_path", "input_paths", "input_file", "input_files", "input_dir", "data_path"}
)
#: Parameter names that are input locations only on reader-like stages (on writers they are outputs).
READER_PATH_PARAMS = frozenset({"path", "paths"})
_GLOB_CHARS = re.compile(r"[*?\[]")


# -- input paths -------------------------------------------------------------------------------------
def _is_local(location: str) -> bool:
    return "://" not in location or location.startswith("file://")


def missing_local_paths(value: Any, base_dir: Path) -> list[str]:
    """The local paths (or globs matching nothing) in `value` (a string or list of strings)."""
    locations = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    missing = []
    for location in locations:
        if not isinstance(location, str) or not _is_local(location):
            continue
        local = os.path.expanduser(location.removeprefix("file://"))
        full = local if os.path.isabs(local) else str(base_dir / local)
        found = glob.glob(full, recursive=True) if _GLOB_CHARS.search(local) else os.path.exists(full)
        if not found:
            missing.append(location)
    return missing


def check_input_paths(cls: type, params: Any, path: Path_, ctx: BuildContext) -> None:
    """Report input-path parameters naming local files or folders that do not exist."""
    if not isinstance(params, dict):
        return
    reader_like = "Reader" in cls.__name__ or "Partitioning" in cls.__name__
    for key, value in params.items():
        if key in INPUT_PATH_PARAMS or (reader_like and key in READER_PATH_PARAMS):
            missing = missing_local_paths(value, ctx.config.base_dir)
            if missing:
                ctx.issue(
                    (*path, key),
                    f"input path(s) not found: {', '.join(missing)} (relative paths are read from "
                    f"{ctx.config.base_dir})",
                )


# -- stages ------------------------------------------------------------------------------------------------
def _unknown_stage_message(name: str) -> str:
    helpers = classes.helper_classes()
    if name in helpers:
        cls = helpers[name]
        kinds = [b.__name__ for b in cls.__mro__]
        for base, stage_name, what in (
            ("DocumentModifier", "Modify", "document modifier"),
            ("DocumentFilter", "ScoreFilter", "document filter"),
        ):
            stage_cls = classes.stage_classes().get(stage_name)
            if base in kinds and stage_cls is not None:
                params = classes.signature_of(stage_cls)[0]
                first = params[0].name if params else "?"
                return (
                    f"'{name}' is a {what}, not a stage; apply it with the {stage_name} stage: "
                    f"`{{{stage_name}: {{{first}: {{{name}: {{}}}}}}}}`"
                )
        return f"'{name}' is a helper class, not a stage"
    names = sorted(classes.stage_classes())
    return f"unknown stage '{name}'.{close_matches(name, names)} Valid stages: {', '.join(names)}"


def build_stage(entry: dict[str, Any], index: int, ctx: BuildContext) -> ProcessingStage | None:
    """One stage from its (long-form) entry, with `name` / `resources` / `batch_size` / `parts` applied."""
    path: Path_ = ("stages", index)
    name = entry.get("stage")
    if not isinstance(name, str) or not name:
        ctx.issue((*path, "stage"), f"'stage' must be a stage class name, got {name!r}")
        return None
    try:
        cls = classes.find_stage_class(name)
    except LookupError as error:
        message = _unknown_stage_message(name) if "unknown stage" in str(error) else str(error)
        ctx.issue((*path, "stage"), message)
        return None
    params = entry.get("params")
    check_input_paths(cls, params, (*path, "params"), ctx)
    stage = build_object(cls, params, (*path, "params"), ctx, label=f"stage {name}")
    if stage is INVALID:
        return None
    options: dict[str, Any] = {}
    if entry.get("name") is not None:
        if isinstance(entry["name"], str) and entry["name"]:
            options["name"] = entry["name"]
        else:
            ctx.issue((*path, "name"), f"'name' must be a non-empty string, got {entry['name']!r}")
    if entry.get("resources") is not None:
        resources = build_value(entry["resources"], Resources, (*path, "resources"), ctx)
        if resources is not INVALID:
            if isinstance(resources, Resources):
                options["resources"] = resources
            else:
                ctx.issue((*path, "resources"), f"'resources' must be a mapping like {{cpus: 2}}, got {resources!r}")
    if entry.get("batch_size") is not None:
        size = entry["batch_size"]
        if isinstance(size, int) and not isinstance(size, bool) and size >= 1:
            options["batch_size"] = size
        else:
            ctx.issue((*path, "batch_size"), f"'batch_size' must be a positive int, got {describe_value(size)}")
    parts = entry.get("parts")
    try:
        if isinstance(stage, CompositeStage):
            if options.keys() - {"name"}:
                ctx.issue(
                    path,
                    f"stage {name} is a composite of {[s.name for s in stage.decompose()]}; set resources and "
                    "batch_size per part with `parts: {part_name: {resources: ..., batch_size: ...}}`",
                )
                return None
            if "name" in options:
                stage.name = options["name"]
            if parts is not None:
                stage = stage.with_(_build_parts(parts, (*path, "parts"), ctx))
        else:
            if parts is not None:
                ctx.issue((*path, "parts"), f"'parts' applies to composite stages only; {name} is a plain stage")
                return None
            if options:
                stage = stage.with_(**options)
    except Exception as error:
        ctx.issue(path, f"cannot configure stage {name}: {type(error).__name__}: {error}")
        return None
    return stage


def _build_parts(parts: Any, path: Path_, ctx: BuildContext) -> dict[str, dict[str, Any]]:
    if not isinstance(parts, dict):
        ctx.issue(path, "'parts' must be a mapping {part_name: {name|resources|batch_size: value}}")
        return {}
    out: dict[str, dict[str, Any]] = {}
    for part_name, options in parts.items():
        if not isinstance(options, dict):
            ctx.issue((*path, part_name), "part options must be a mapping")
            continue
        built = dict(options)
        if "resources" in built:
            built["resources"] = build_value(built["resources"], Resources, (*path, part_name, "resources"), ctx)
        out[str(part_name)] = built
    return out


__all__ = ["INPUT_PATH_PARAMS", "READER_PATH_PARAMS", "build_stage", "check_input_paths", "missing_local_paths"]
