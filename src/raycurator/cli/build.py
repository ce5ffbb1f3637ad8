"""From a loaded pipeline config to a `Pipeline` and its executor, checking everything first.

`build` gathers every problem in the file (stages via `raycurator.cli.stage_specs`, values via
`raycurator.cli.values`, the executor section here) and raises one `ConfigError` listing them all.

Nothing here starts Ray: the executor object is only constructed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from raycurator.backends.base import BaseExecutor
from raycurator.cli.config import ConfigError, ConfigIssue, Path_, PipelineConfig, close_matches, format_path
from raycurator.cli.executors import DEFAULT_EXECUTOR, EXECUTOR_TYPES, CliOverrides, ExecutorType, config_keys
from raycurator.cli.stage_specs import build_stage
from raycurator.cli.types import describe_value
from raycurator.cli.values import INVALID, BuildContext, build_object, build_value, check_param
from raycurator.pipeline import Pipeline
from raycurator.stages.base import ProcessingStage


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
    if overrides.working_dir is not None:
        if "runtime_env" not in keys:
            ctx.issues.append(ConfigIssue("--working-dir", f"does not apply to the {executor_type.name} executor"))
        else:
            shipped = {**(raw_config.get("runtime_env") or {}), "working_dir": overrides.working_dir}
            raw_config["runtime_env"] = shipped
            ctx.config.locations[("executor", "config", "runtime_env")] = f"--working-dir {overrides.working_dir}"
    for option, value, flag in (
        ("address", overrides.address, "--address"),
        ("checkpoint_dir", overrides.checkpoint_dir, "--checkpoint-dir"),
        ("log_dir", overrides.log_dir, "--log-dir"),
        ("checkpoint_start_over", overrides.start_over, "--start-over"),
        ("allow_insecure_ray", overrides.insecure, "--insecure"),
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
