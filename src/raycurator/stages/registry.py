"""Registry of concrete stage classes by name, used by YAML pipelines and the CLI."""

from __future__ import annotations

from typing import Any

from raycurator.errors import PipelineConfigError

_BY_NAME: dict[str, dict[str, type]] = {}


class UnknownStageError(PipelineConfigError, KeyError):
    """No registered stage has the name asked for (a `KeyError` too, as in NeMo Curator)."""

    __str__ = Exception.__str__  # KeyError would quote the message


def register_stage_class(cls: type) -> None:
    """Record `cls` under its class name (and its qualified name for disambiguation)."""
    qualified = f"{cls.__module__}.{cls.__qualname__}"
    _BY_NAME.setdefault(cls.__name__, {})[qualified] = cls


def get_stage_class(name: str) -> type[Any]:
    """The registered stage class called `name` (class name or `module.ClassName`)."""
    if "." in name:
        for classes in _BY_NAME.values():
            if name in classes:
                return classes[name]
    classes = _BY_NAME.get(name)
    if not classes:
        raise UnknownStageError(
            f"unknown stage '{name}'; registered stages: {', '.join(sorted(_BY_NAME)) or '(none)'}"
        )
    if len(classes) > 1:
        raise PipelineConfigError(f"stage name '{name}' is ambiguous; use one of: {', '.join(sorted(classes))}")
    return next(iter(classes.values()))


def list_stage_classes() -> dict[str, type]:
    """Every unambiguous registered stage name mapped to its class."""
    return {name: next(iter(c.values())) for name, c in sorted(_BY_NAME.items()) if len(c) == 1}
