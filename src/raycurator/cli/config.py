"""Loading pipeline YAML files: values, where each came from, `--set` overrides, the schema.

`load_config` returns a `PipelineConfig` whose `data` is the plain YAML content with every
stage entry normalised to the long form `{stage: Name, params: {...}, ...}`, and whose
`locations` map a key path (a tuple of str/int) to where it was written: `file.yaml:12` or
`--set key=value`. Problems are collected as `ConfigIssue`s and raised together in a
`ConfigError`, so one pass shows every mistake of a file.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Path_ = tuple[str | int, ...]

TOP_LEVEL_KEYS = ("name", "description", "executor", "stages")
STAGE_ENTRY_KEYS = ("stage", "params", "name", "resources", "batch_size", "parts")
EXECUTOR_KEYS = ("type", "config", "ignore_head_node", "show_progress")


@dataclass
class ConfigIssue:
    """One problem of a config: where it is and what is wrong."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class ConfigError(Exception):
    """A pipeline config that cannot be run; holds every problem found."""

    def __init__(self, source: str, issues: list[ConfigIssue]) -> None:
        self.source = source
        self.issues = list(issues)
        count = len(self.issues)
        lines = [f"invalid pipeline config '{source}' ({count} problem{'s' if count != 1 else ''}):"]
        lines.extend(f"  - {issue}" for issue in self.issues)
        super().__init__("\n".join(lines))


def format_path(path: Path_) -> str:
    """`("stages", 2, "params", "x")` -> `stages[2].params.x`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text or "(top level)"


def close_matches(word: str, choices: list[str] | tuple[str, ...]) -> str:
    """` Did you mean 'x'?` when some choice is close to `word`, else an empty string."""
    matches = difflib.get_close_matches(str(word), list(choices), n=3, cutoff=0.6)
    if not matches:
        lowered = {c.lower(): c for c in choices}
        if str(word).lower() in lowered:
            matches = [lowered[str(word).lower()]]
    if not matches:
        return ""
    return " Did you mean " + " or ".join(repr(m) for m in matches) + "?"


@dataclass
class PipelineConfig:
    """A loaded pipeline file: its data (stages in long form) and where every value came from."""

    source: str
    data: dict[str, Any]
    locations: dict[Path_, str] = field(default_factory=dict)
    base_dir: Path = field(default_factory=Path.cwd)

    def where(self, path: Path_) -> str:
        """The location of `path` (or of its nearest located ancestor), with the key path."""
        probe = tuple(path)
        while probe and probe not in self.locations:
            probe = probe[:-1]
        location = self.locations.get(probe, self.source)
        return f"{location} ({format_path(path)})" if path else location

    @property
    def name(self) -> str:
        return str(self.data.get("name") or Path(self.source).stem)

    @property
    def stages(self) -> list[dict[str, Any]]:
        return self.data.get("stages") or []

    @property
    def executor(self) -> dict[str, Any]:
        return self.data.get("executor") or {}


# -- reading ----------------------------------------------------------------------------------------
def _record_locations(node: yaml.Node, path: Path_, source: str, out: dict[Path_, str]) -> None:
    out[path] = f"{source}:{node.start_mark.line + 1}"
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            child = (*path, key)
            _record_locations(value_node, child, source, out)
            # a key's own line is more useful than its value's line for block mappings
            out[child] = f"{source}:{key_node.start_mark.line + 1}"
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record_locations(item, (*path, index), source, out)


#: Bounds on a pipeline file's YAML: nodes once aliases are expanded, and nesting depth.
MAX_YAML_NODES = 100_000
MAX_YAML_DEPTH = 64


def _check_yaml_bounds(node: yaml.Node, source: str) -> None:
    """Refuse a node graph that expands (through aliases) past `MAX_YAML_NODES`, nests deeper than
    `MAX_YAML_DEPTH` or refers to itself; each distinct node is visited once (no recursion)."""
    expanded: dict[int, int] = {}  # values below a node once aliases are expanded
    height: dict[int, int] = {}  # nesting levels below a node once aliases are expanded
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(node, False)]
    while stack:
        current, children_done = stack.pop()
        key = id(current)
        children = _children(current)
        if children_done:
            on_path.discard(key)
            expanded[key] = 1 + sum(expanded[id(c)] for c in children)
            height[key] = 1 + max((height[id(c)] for c in children), default=0)
            where = f"{source}:{current.start_mark.line + 1}"
            if expanded[key] > MAX_YAML_NODES:
                raise ConfigError(
                    source,
                    [
                        ConfigIssue(
                            where,
                            f"the YAML expands to more than {MAX_YAML_NODES:,} values (through aliases `*name`); "
                            "a pipeline file this large is refused",
                        )
                    ],
                )
            if height[key] > MAX_YAML_DEPTH:
                raise ConfigError(
                    source,
                    [ConfigIssue(where, f"the YAML nests deeper than {MAX_YAML_DEPTH} levels; refused")],
                )
            continue
        if key in expanded:
            continue
        on_path.add(key)
        stack.append((current, True))
        for child in children:
            if id(child) in on_path:
                where = f"{source}:{child.start_mark.line + 1}"
                raise ConfigError(source, [ConfigIssue(where, "the YAML refers to itself (a recursive alias)")])
            if id(child) not in expanded:
                stack.append((child, False))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def read_yaml(text: str, source: str) -> tuple[Any, dict[Path_, str]]:
    """Parse YAML text; returns the data and the line of every key path.

    The file is refused (a `ConfigError`) when it nests too deeply or expands through aliases
    past the bounds above, before any pass over its values.
    """
    try:
        node = yaml.compose(text)
        if node is not None:
            _check_yaml_bounds(node, source)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(source, [ConfigIssue(where, f"not valid YAML: {problem}")]) from error
    except RecursionError as error:
        raise ConfigError(
            source, [ConfigIssue(source, f"the YAML nests too deeply to read (more than {MAX_YAML_DEPTH} levels)")]
        ) from error
    locations: dict[Path_, str] = {}
    if node is not None:
        _record_locations(node, (), source, locations)
    return data, locations


def _move_locations(locations: dict[Path_, str], old: Path_, new: Path_) -> None:
    for key in [k for k in locations if k[: len(old)] == old]:
        locations[(*new, *key[len(old) :])] = locations[key]


def normalise_stage_entry(
    entry: Any, index: int, locations: dict[Path_, str], where: str
) -> tuple[dict[str, Any] | None, list[ConfigIssue]]:
    """One `stages` item in the long form `{stage, params, ...}`, or the issues found."""
    path: Path_ = ("stages", index)
    if isinstance(entry, str):  # a bare class name: a stage without parameters
        return {"stage": entry, "params": {}}, []
    if not isinstance(entry, dict) or not entry:
        return None, [
            ConfigIssue(
                where,
                f"a stage entry is `{{StageClassName: {{param: value}}}}` or `{{stage: StageClassName, params: "
                f"{{...}}}}`, got {type(entry).__name__} {entry!r}",
            )
        ]
    if "stage" in entry:
        unknown = [k for k in entry if k not in STAGE_ENTRY_KEYS]
        if unknown:
            return None, [
                ConfigIssue(
                    where,
                    f"unknown key(s) {unknown} in a stage entry; valid keys: {', '.join(STAGE_ENTRY_KEYS)}."
                    + close_matches(unknown[0], STAGE_ENTRY_KEYS),
                )
            ]
        normal = dict(entry)
        if normal.get("params") is None:
            normal["params"] = {}
        return normal, []
    if len(entry) != 1:
        return None, [
            ConfigIssue(
                where,
                f"a short stage entry has exactly one key, the stage class name; got keys {list(entry)}. "
                "Use `{stage: Name, params: {...}}` for more options",
            )
        ]
    ((name, params),) = entry.items()
    _move_locations(locations, (*path, name), (*path, "params"))
    locations[(*path, "stage")] = locations.get((*path, "params"), where)
    return {"stage": name, "params": {} if params is None else params}, []


def _parse_set_path(key: str) -> Path_:
    parts: list[str | int] = []
    for raw in key.split("."):
        if raw == "":
            raise ValueError(f"empty segment in key '{key}'")
        parts.append(int(raw) if raw.lstrip("-").isdigit() else raw)
    return tuple(parts)


def apply_override(config: PipelineConfig, assignment: str) -> list[ConfigIssue]:
    """Apply one `--set dotted.key=value` (the value is read as a YAML scalar or flow value)."""
    where = f"--set {assignment}"
    if "=" not in assignment:
        return [ConfigIssue(where, "expected key=value, e.g. stages.0.params.min_words=20")]
    key, raw_value = assignment.split("=", 1)
    try:
        path = _parse_set_path(key.strip())
        value = yaml.safe_load(raw_value) if raw_value.strip() else ""
    except (ValueError, yaml.YAMLError) as error:
        return [ConfigIssue(where, f"cannot parse: {error}")]
    # `stages.N.<ClassName>.x` means the stage's params, as written in the short form
    if len(path) >= 3 and path[0] == "stages" and isinstance(path[1], int):
        stages = config.data.get("stages")
        if isinstance(stages, list) and -len(stages) <= path[1] < len(stages):
            entry = stages[path[1]]
            if isinstance(entry, dict) and path[2] == entry.get("stage"):
                path = (path[0], path[1] % len(stages), "params", *path[3:])
    target: Any = config.data
    actual: list[str | int] = []
    for depth, part in enumerate(path):
        last = depth == len(path) - 1
        if isinstance(target, list):
            if not isinstance(part, int) or not -len(target) <= part < len(target):
                return [ConfigIssue(where, f"{format_path(path[:depth])} has {len(target)} item(s); no index {part}")]
            part = part % len(target)
        elif isinstance(target, dict):
            part = str(part) if isinstance(part, int) else part
            if not last and not isinstance(target.get(part), dict | list):
                target[part] = {}
        else:
            return [ConfigIssue(where, f"{format_path(path[:depth])} is not a mapping or list")]
        actual.append(part)
        if last:
            target[part] = value
        else:
            target = target[part]
    final = tuple(actual)
    for known in [k for k in config.locations if k[: len(final)] == final]:
        del config.locations[known]
    config.locations[final] = where
    return []


def check_layout(config: PipelineConfig) -> list[ConfigIssue]:
    """Check the top-level shape: known keys, a name, a non-empty `stages` list, an executor mapping."""
    issues: list[ConfigIssue] = []
    data = config.data
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            issues.append(
                ConfigIssue(
                    config.where((key,)),
                    f"unknown top-level key '{key}'; valid keys: {', '.join(TOP_LEVEL_KEYS)}."
                    + close_matches(key, TOP_LEVEL_KEYS),
                )
            )
    for key in ("name", "description"):
        if data.get(key) is not None and not isinstance(data[key], str):
            issues.append(ConfigIssue(config.where((key,)), f"'{key}' must be a string, got {data[key]!r}"))
    executor = data.get("executor")
    if executor is not None and not isinstance(executor, dict):
        issues.append(
            ConfigIssue(
                config.where(("executor",)),
                "'executor' must be a mapping like {type: ray_actor_pool, config: {mode: streaming}}",
            )
        )
    elif isinstance(executor, dict):
        for key in executor:
            if key not in EXECUTOR_KEYS:
                issues.append(
                    ConfigIssue(
                        config.where(("executor", key)),
                        f"unknown executor key '{key}'; valid keys: {', '.join(EXECUTOR_KEYS)}."
                        + close_matches(key, EXECUTOR_KEYS),
                    )
                )
        if executor.get("config") is not None and not isinstance(executor["config"], dict):
            issues.append(ConfigIssue(config.where(("executor", "config")), "'executor.config' must be a mapping"))
    stages = data.get("stages")
    if stages is None:
        issues.append(ConfigIssue(config.source, "no 'stages' list: a pipeline needs at least one stage"))
    elif not isinstance(stages, list) or not stages:
        issues.append(ConfigIssue(config.where(("stages",)), "'stages' must be a non-empty list of stage entries"))
    return issues


def load_config(path: str | Path, overrides: list[str] | None = None) -> PipelineConfig:
    """Read a pipeline YAML file, normalise its stage entries and apply `--set` overrides."""
    file = Path(path)
    source = str(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise ConfigError(source, [ConfigIssue(source, "no such file")]) from error
    except OSError as error:
        raise ConfigError(source, [ConfigIssue(source, f"cannot read: {error}")]) from error
    return load_config_text(text, source, overrides)


def load_config_text(text: str, source: str = "<config>", overrides: list[str] | None = None) -> PipelineConfig:
    """`load_config` for YAML text already in memory."""
    data, locations = read_yaml(text, source)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            source, [ConfigIssue(f"{source}:1", f"a pipeline file is a mapping (name, executor, stages), got {data!r}")]
        )
    config = PipelineConfig(source=source, data=data, locations=locations)
    issues: list[ConfigIssue] = []
    stages = data.get("stages")
    if isinstance(stages, list):
        normal: list[Any] = []
        for index, entry in enumerate(stages):
            entry_issues: list[ConfigIssue]
            fixed, entry_issues = normalise_stage_entry(entry, index, locations, config.where(("stages", index)))
            issues.extend(entry_issues)
            normal.append(fixed if fixed is not None else entry)
        data["stages"] = normal
    for assignment in overrides or []:
        issues.extend(apply_override(config, assignment))
    issues.extend(check_layout(config))
    if issues:
        raise ConfigError(source, issues)
    return config
