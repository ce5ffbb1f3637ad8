"""Turning YAML values into Python values and objects, checked against constructor annotations.

Rules (applied recursively to stage parameters and executor config):

- a mapping with a single key naming a known class (a registered stage, a document filter or
  modifier, `Resources`, or a dotted path `package.module.Class`) whose value is a mapping of
  parameters (or null) becomes an instance of that class: `{WordCountFilter: {min_words: 50}}`;
- a plain mapping given where the annotation asks for one user class (e.g. `resources:
  {cpus: 2}` for a `Resources` parameter) becomes an instance of that class;
- every other value stays as YAML wrote it and is checked against the parameter's annotation
  (int, float, str, bool, list[...], dict[...], unions / Optional, Literal, classes).

Problems are recorded on a `BuildContext` rather than raised, so that one check reports them all.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from typing import Any

from raycurator.cli import classes
from raycurator.cli.config import ConfigIssue, Path_, PipelineConfig, close_matches
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

#: What a build function returns for a value it could not build (the reason is in the context's issues).
INVALID: Any = object()
_CLASS_NAME = re.compile(r"^[A-Z][A-Za-z0-9_]*$")


@dataclass
class BuildContext:
    """The config being built and the issues found so far."""

    config: PipelineConfig
    issues: list[ConfigIssue] = field(default_factory=list)

    def issue(self, path: Path_, message: str) -> None:
        self.issues.append(ConfigIssue(self.config.where(path), message))


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
        if cls is None and classes.is_dotted_path(name):
            cls = _checked_dotted_class(name, annotation, (*path, name), ctx)
            if cls is INVALID:
                return INVALID
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


def _checked_dotted_class(name: str, annotation: Any, path: Path_, ctx: BuildContext) -> Any:
    """The class a dotted path names, only when it fits `annotation` (else INVALID with an issue).

    Nothing is imported for a parameter whose annotation names no class, and nothing is
    constructed unless the class subclasses one the annotation names.
    """
    targets = [
        arm
        for arm in union_arms(annotation)
        if isinstance(arm, type) and arm.__module__ not in ("builtins", "typing", "collections.abc")
    ]
    if unknown(annotation) or not targets:
        accepted = "an unannotated value" if unknown(annotation) else type_name(annotation)
        ctx.issue(
            path,
            f"class '{name}' given to a parameter that accepts {accepted}; a dotted-path class is only "
            "accepted where the parameter's annotation names a class it subclasses (it was not imported)",
        )
        return INVALID
    try:
        cls = classes.import_dotted(name)
    except Exception as error:  # importing runs the module's code: any error is the user's
        ctx.issue(path, f"cannot import class '{name}': {type(error).__name__}: {error}")
        return INVALID
    if not isinstance(cls, type) or not any(issubclass(cls, target) for target in targets):
        ctx.issue(
            path,
            f"'{name}' is not a subclass of {' or '.join(t.__name__ for t in targets)}, which this parameter "
            "accepts; it was not constructed",
        )
        return INVALID
    return cls


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


__all__ = ["INVALID", "BuildContext", "build_object", "build_value", "check_param", "usable_classes"]
