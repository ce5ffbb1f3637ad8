"""Checking YAML values against constructor annotations (the simple cases; the rest passes)."""

from __future__ import annotations

import collections.abc as cabc
import inspect
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin

_SEQUENCE_ORIGINS = (list, tuple, set, frozenset, cabc.Sequence, cabc.MutableSequence, cabc.Set, cabc.Collection)
_MAPPING_ORIGINS = (dict, cabc.Mapping, cabc.MutableMapping)


def is_union(tp: Any) -> bool:
    """Whether `tp` is `X | Y` or `Optional[X]` / `Union[...]`."""
    return get_origin(tp) in (Union, types.UnionType)


def union_arms(tp: Any) -> tuple[Any, ...]:
    """The alternatives of a union, or `(tp,)`."""
    return get_args(tp) if is_union(tp) else (tp,)


def unknown(tp: Any) -> bool:
    """Whether `tp` tells us nothing checkable."""
    return tp is inspect.Parameter.empty or tp is Any or tp is object or isinstance(tp, typing.TypeVar)


def matches(value: Any, tp: Any) -> bool:
    """Whether `value` (built from YAML) fits the annotation `tp`; unknown annotations accept anything."""
    if unknown(tp):
        return True
    if is_union(tp):
        return any(matches(value, arm) for arm in get_args(tp))
    if tp is None or tp is type(None):
        return value is None
    origin, args = get_origin(tp), get_args(tp)
    if origin is Literal:
        return value in args
    if origin is not None and origin in _SEQUENCE_ORIGINS:
        if not isinstance(value, list | tuple | set | frozenset):
            return False
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            return len(value) == len(args) and all(matches(v, a) for v, a in zip(value, args, strict=True))
        return not args or all(matches(v, args[0]) for v in value)
    if origin is not None and origin in _MAPPING_ORIGINS:
        if not isinstance(value, dict):
            return False
        if len(args) == 2:
            return all(matches(k, args[0]) and matches(v, args[1]) for k, v in value.items())
        return True
    if origin is cabc.Iterable or tp is cabc.Iterable:
        return isinstance(value, cabc.Iterable)
    if origin is cabc.Callable or tp is cabc.Callable:
        return callable(value)
    if origin is type:
        return isinstance(value, type)
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    if tp in (list, tuple, set, frozenset):
        return isinstance(value, list | tuple | set | frozenset)
    if tp is dict:
        return isinstance(value, dict)
    if origin is not None:
        tp = origin
    if isinstance(tp, type):
        try:
            return isinstance(value, tp)
        except TypeError:
            return True
    return True


def type_name(tp: Any) -> str:
    """A readable name of an annotation: `int`, `str | list[str] | None`, `DocumentFilter`."""
    if tp is None or tp is type(None):
        return "None"
    if is_union(tp):
        return " | ".join(type_name(a) for a in get_args(tp))
    origin, args = get_origin(tp), get_args(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in args)
    if origin is not None:
        base = getattr(origin, "__name__", str(origin))
        if args:
            inner = ", ".join("..." if a is Ellipsis else type_name(a) for a in args if not isinstance(a, list))
            return f"{base}[{inner}]"
        return base
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


def describe_value(value: Any) -> str:
    """`str 'abc'`, `float 2.5`, `list [1, 2]` for error messages."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def element_annotation(tp: Any) -> Any:
    """The element type of the sequence arm of `tp` (`X | list[Y]` -> Y), or empty."""
    for arm in union_arms(tp):
        origin, args = get_origin(arm), get_args(arm)
        if origin in _SEQUENCE_ORIGINS or origin is cabc.Iterable:
            if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
                continue
            return args[0] if args else inspect.Parameter.empty
    return inspect.Parameter.empty


def value_annotation(tp: Any) -> Any:
    """The value type of the mapping arm of `tp`, or empty."""
    for arm in union_arms(tp):
        origin, args = get_origin(arm), get_args(arm)
        if origin in _MAPPING_ORIGINS and len(args) == 2:
            return args[1]
    return inspect.Parameter.empty


def accepts_mapping(tp: Any) -> bool:
    """Whether a plain dict satisfies `tp`."""
    return matches({}, tp)


def constructible_classes(tp: Any) -> list[type]:
    """User classes among the arms of `tp` that a YAML mapping of keyword arguments may build."""
    found = []
    for arm in union_arms(tp):
        if isinstance(arm, type) and arm.__module__ not in ("builtins", "typing", "collections.abc"):
            if not inspect.isabstract(arm):
                found.append(arm)
    return found
