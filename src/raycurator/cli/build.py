"""From a loaded pipeline config to a `Pipeline` and its executor, checking everything first.

Rules for values (applied recursively to stage parameters and executor config):

- a mapping with a single key naming a known class (a registered stage, a document filter or
  modifier, `Resources`, or a dotted path `package.module.Class`) whose value is a mapping of
  parameters (or null) becomes an instance of that class: `{WordCountFilter: {min_words: 50}}`;
- a plain mapping given where the annotation asks for one user class (e.g. `resources:
  {cpus: 2}` for a `Resources` parameter) becomes an instance of that class;
- every other value stays as YAML wrote it and is checked against the parameter's annotation
  (int, float, str, bool, list[...], dict[...], unions / Optional, Literal, classes).

Nothing here starts Ray: the executor object is only constructed.
"""

from __future__ import annotations

import dataclasses
import glob
import inspect
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from raycurator.backends.base import BaseExecutor
from raycurator.cli import classes
from raycurator.cli.config import ConfigError, ConfigIssue, Path_, PipelineConfig, close_matches, format_path
from raycurator.cli.executors import DEFAULT_EXECUTOR, EXECUTOR_TYPES, CliOverrides, ExecutorType, config_keys
from raycurator.cli.types import (
    accepts_mapping,
    constructible_classes,
    describe_value,
    element_annotation,
    matches,
    type_name,
    union_arms,
    unknown,
    value_annotation,
)
from raycurator.pipeline import Pipeline
from raycurator.stages.base import CompositeStage, ProcessingStage
from raycurator.stages.resources import Resources

INVALID: Any = object()
#: Parameter names holding input locations that must exist when local.
INPUT_PATH_PARAMS = frozenset(
    {"file_paths", "input_path", "input_paths", "input_file", "input_files", "input_dir", "data_path"}
)
#: Parameter names that are input locations only on reader-like stages (on writers they are outputs).
READER_PATH_PARAMS = frozenset({"path", "paths"})
_CLASS_NAME = re.compile(r"^[A-Z][A-Za-z0-9_]*$")
_GLOB_CHARS = re.compile(r"[*?\[]")


@dataclass
class BuildContext:
    """The config being built and the issues found so far."""

    config: PipelineConfig
    issues: list[ConfigIssue] = field(default_factory=list)

    def issue(self, path: Path_, message: str) -> None:
        self.issues.append(ConfigIssue(self.config.where(path), message))


# -- values and objects --------------------------------------------------------------------------------
def _class_key(value: Any) -> tuple[str, Any] | None:
    if isinstance(value, dict) and len(value) == 1:
        ((key, inner),) = value.items()
        if isinstance(key, str) and (inner is None or isinstance(inner, dict)):
            return key, inner
    return None


def _known_class_names() -> list[str]:
    return sorted({*classes.helper_classes(), *classes.stage_classes()})


def usable_classes(annotation: Any) -> list[str]:
    """Names of the helper and stage classes whose instances fit `annotation` (or its elements)."""
    targets = [a for a in (*union_arms(annotation), *union_arms(element_annotation(annotation))) if isinstance(a, type)]
    targets = [t for t in targets if t.__module__ not in ("builtins", "typing", "collections.abc")]
    if not targets:
        return []
    candidates = {**classes.stage_classes(), **classes.helper_classes()}
    return sorted(name for name, cls in candidates.items() if any(issubclass(cls, t) for t in targets))


def build_value(value: Any, annotation: Any, path: Path_, ctx: BuildContext) -> Any:
    """The Python value for a YAML value given the annotation it must fit (INVALID on errors)."""
    mapping_wanted = accepts_mapping(annotation) and not unknown(annotation)
    keyed = _class_key(value)
    if keyed is not None and not mapping_wanted:
        name, params = keyed
        cls = classes.find_helper_class(name)
        if cls is not None:
            return build_object(cls, params, (*path, name), ctx)
        if _CLASS_NAME.match(name) and not unknown(annotation):
            usable = usable_classes(annotation)
            ctx.issue(
                (*path, name),
                f"unknown class '{name}'.{close_matches(name, usable or _known_class_names())} "
                f"Classes usable here: {', '.join(usable or classes.helper_classes())}",
            )
            return INVALID
    if isinstance(value, dict):
        targets = constructible_classes(annotation)
        if not mapping_wanted and len(targets) == 1:
            return build_object(targets[0], value, path, ctx)
        inner = value_annotation(annotation)
        built = {key: build_value(item, inner, (*path, key), ctx) for key, item in value.items()}
        return INVALID if any(v is INVALID for v in built.values()) else built
    if isinstance(value, list):
        inner = element_annotation(annotation)
        items = [build_value(item, inner, (*path, index), ctx) for index, item in enumerate(value)]
        return INVALID if any(v is INVALID for v in items) else items
    return value


def check_param(value: Any, param: classes.ParamInfo, path: Path_, ctx: BuildContext) -> Any:
    """Build one parameter value and check it against the parameter's annotation."""
    built = build_value(value, param.annotation, path, ctx)
    if built is INVALID:
        return INVALID
    if not matches(built, param.annotation):
        ctx.issue(
            path,
            f"wrong type for parameter '{param.name}': expected {type_name(param.annotation)}, "
            f"got {describe_value(built)}",
        )
        return INVALID
    return built


def build_object(cls: type, params: Any, path: Path_, ctx: BuildContext, label: str | None = None) -> Any:
    """An instance of `cls` from a YAML mapping of constructor parameters (INVALID on errors)."""
    label = label or cls.__name__
    if params is None:
        params = {}
    if not isinstance(params, dict):
        ctx.issue(path, f"parameters of {label} must be a mapping of name: value, got {describe_value(params)}")
        return INVALID
    infos, takes_kwargs = classes.signature_of(cls)
    by_name = {p.name: p for p in infos}
    before = len(ctx.issues)
    kwargs: dict[str, Any] = {}
    for key, value in params.items():
        param = by_name.get(str(key))
        if param is None:
            if takes_kwargs:
                kwargs[str(key)] = build_value(value, inspect.Parameter.empty, (*path, key), ctx)
                continue
            ctx.issue(
                (*path, key),
                f"unknown parameter '{key}' for {label}.{close_matches(str(key), list(by_name))} "
                f"Its parameters: {classes.format_params(cls) or '(none)'}",
            )
            continue
        kwargs[param.name] = check_param(value, param, (*path, key), ctx)
    missing = [p.name for p in infos if p.required and p.name not in kwargs]
    if missing:
        ctx.issue(
            path,
            f"{label} needs parameter(s) {', '.join(missing)}. Its parameters: {classes.format_params(cls)}",
        )
    if len(ctx.issues) > before or any(v is INVALID for v in kwargs.values()):
        return INVALID
    try:
        return cls(**kwargs)
    except Exception as error:
        ctx.issue(path, f"{label} rejected its parameters: {type(error).__name__}: {error}")
        return INVALID


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


# -- executors ---------------------------------------------------------------------------------------------
def build_executor(ctx: BuildContext, overrides: CliOverrides) -> tuple[ExecutorType | None, BaseExecutor | None]:
    """The configured executor (not started), or None with issues recorded."""
    section = ctx.config.executor
    type_name_ = section.get("type", DEFAULT_EXECUTOR)
    if type_name_ not in EXECUTOR_TYPES:
        ctx.issue(
            ("executor", "type"),
            f"unknown executor type {type_name_!r}.{close_matches(str(type_name_), list(EXECUTOR_TYPES))} "
            f"Valid types: {', '.join(EXECUTOR_TYPES)}",
        )
        return None, None
    executor_type = EXECUTOR_TYPES[type_name_]
    raw_config = dict(section.get("config") or {})
    keys = config_keys(executor_type)
    for option, value, flag in (
        ("address", overrides.address, "--address"),
        ("checkpoint_dir", overrides.checkpoint_dir, "--checkpoint-dir"),
        ("log_dir", overrides.log_dir, "--log-dir"),
        ("checkpoint_start_over", overrides.start_over, "--start-over"),
    ):
        if value is None:
            continue
        if option not in keys:
            if option in ("checkpoint_dir", "checkpoint_start_over"):
                ctx.issues.append(
                    ConfigIssue(
                        flag,
                        f"not supported yet: the {executor_type.name} executor has no checkpoint_dir config key "
                        "(checkpointing comes in a later release)",
                    )
                )
            else:
                ctx.issues.append(ConfigIssue(flag, f"does not apply to the {executor_type.name} executor"))
            continue
        raw_config[option] = value
        ctx.config.locations[("executor", "config", option)] = f"{flag} {value}"
    config: dict[str, Any] = {}
    for key, value in raw_config.items():
        path: Path_ = ("executor", "config", key)
        if key not in keys:
            valid = ", ".join(keys) if keys else "(none: this executor takes no config)"
            ctx.issue(
                path,
                f"unknown {executor_type.name} executor config key '{key}'.{close_matches(str(key), list(keys))} "
                f"Valid keys: {valid}",
            )
            continue
        built = check_param(value, keys[key], path, ctx)
        if built is not INVALID:
            config[key] = built
    options: dict[str, Any] = {}
    for option in ("ignore_head_node", "show_progress"):
        if option not in section:
            continue
        if option not in executor_type.options:
            ctx.issue(("executor", option), f"'{option}' does not apply to the {executor_type.name} executor")
        elif not isinstance(section[option], bool):
            ctx.issue(("executor", option), f"'{option}' must be true or false, got {describe_value(section[option])}")
        else:
            options[option] = section[option]
    if overrides.show_progress is not None and "show_progress" in executor_type.options:
        options["show_progress"] = overrides.show_progress
    config_class = executor_type.config_class()
    from_dict = getattr(config_class, "from_dict", None)
    if from_dict is not None and len(config) == len(raw_config):
        try:
            from_dict(config)
        except Exception as error:
            mentioned = [key for key in config if f"'{key}'" in str(error) or f"{key!r}" in str(error)]
            path = ("executor", "config", mentioned[0]) if mentioned else ("executor", "config")
            ctx.issue(path, str(error))
    if ctx.issues:
        return executor_type, None
    try:
        cls = executor_type.load()
        executor = cls(config=config, **options)
    except Exception as error:
        ctx.issue(("executor",), f"invalid executor configuration: {error}")
        return executor_type, None
    return executor_type, executor


# -- the whole pipeline ---------------------------------------------------------------------------------


@dataclass
class BuiltPipeline:
    """A validated pipeline, ready to run."""

    config: PipelineConfig
    pipeline: Pipeline
    stages: list[ProcessingStage]
    executor_type: ExecutorType
    executor: BaseExecutor

    @property
    def executor_config(self) -> dict[str, Any]:
        options = getattr(self.executor, "options", None)
        if options is not None and dataclasses.is_dataclass(options):
            return dataclasses.asdict(options)
        return dict(self.executor.config)

    @property
    def executor_config_changed(self) -> dict[str, Any]:
        """The executor config keys whose values differ from the defaults."""
        options = getattr(self.executor, "options", None)
        if options is None or not dataclasses.is_dataclass(options):
            return dict(self.executor.config)
        defaults = dataclasses.asdict(type(options)())
        return {k: v for k, v in dataclasses.asdict(options).items() if defaults.get(k) != v}


def build(config: PipelineConfig, overrides: CliOverrides | None = None) -> BuiltPipeline:
    """Check and build everything a config describes; raise `ConfigError` listing every problem."""
    ctx = BuildContext(config)
    stages: list[ProcessingStage] = []
    for index, entry in enumerate(config.stages):
        stage = build_stage(entry, index, ctx)
        if stage is not None:
            stages.append(stage)
    executor_type, executor = build_executor(ctx, overrides or CliOverrides())
    if ctx.issues:
        raise ConfigError(config.source, ctx.issues)
    assert executor_type is not None and executor is not None
    pipeline = Pipeline(name=config.name, description=config.data.get("description"), stages=stages)
    try:
        built = pipeline.build()
    except Exception as error:
        raise ConfigError(config.source, [ConfigIssue(config.where(("stages",)), str(error))]) from error
    return BuiltPipeline(config, pipeline, built, executor_type, executor)


__all__ = [
    "EXECUTOR_TYPES",
    "BuildContext",
    "BuiltPipeline",
    "CliOverrides",
    "ConfigError",
    "build",
    "build_object",
    "build_value",
    "format_path",
]
