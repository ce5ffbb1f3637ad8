"""Hive-style partitioning of a writer's output: `<column>=<value>/` folders.

Folder names are made safe: column names and values are percent-encoded (every byte outside
`A-Za-z0-9_.-~`, as `urllib.parse.quote` with no safe characters does, so `/`, `=`, `%`, `\\`
and spaces can never form a path), a leading "." is encoded too (no "." / ".." and no hidden
folders), a null or empty value is Hive's `__HIVE_DEFAULT_PARTITION__` (the rows keep their
value: the column stays in the files), and very long values are cut and
suffixed with a hash of the whole value (distinct values stay in distinct folders). Readers
that understand Hive partitioning (pyarrow, Spark) decode the names back.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import quote

import pyarrow as pa
import pyarrow.compute as pc

NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
_MAX_SEGMENT = 200


def encode_segment(value: Any) -> str:
    """A safe folder-name piece for `value` (see the module docstring)."""
    if value is None or value == "":
        return NULL_PARTITION
    text = value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)
    encoded = quote(text, safe="")
    if encoded.startswith("."):
        encoded = "%2E" + encoded[1:]
    if len(encoded) > _MAX_SEGMENT:
        digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]
        encoded = f"{encoded[: _MAX_SEGMENT - 13].rstrip('%')}-{digest}"
    return encoded


def partition_folder(column: str, value: Any) -> str:
    """`<column>=<value>`, both encoded."""
    return f"{encode_segment(column)}={encode_segment(value)}"


def split_by(table: pa.Table, columns: list[str]) -> list[tuple[str, pa.Table]]:
    """(relative folder, rows) for every folder the values of `columns` in `table` map to, sorted by folder."""
    if not columns:
        return [("", table)]
    column, rest = columns[0], columns[1:]
    values = table.column(column)
    masks: dict[str, pa.Array] = {}
    for value in pc.unique(values).to_pylist():
        if value is None:
            mask = pc.is_null(values)
        elif isinstance(value, float) and value != value:  # NaN equals nothing, itself included
            mask = pc.fill_null(pc.is_nan(values), False)
        else:
            mask = pc.fill_null(pc.equal(values, pa.scalar(value, values.type)), False)
        folder = partition_folder(column, value)  # null and "" share Hive's default folder
        masks[folder] = pc.or_(masks[folder], mask) if folder in masks else mask
    parts: list[tuple[str, pa.Table]] = []
    for folder, mask in masks.items():
        for sub_folder, rows in split_by(table.filter(mask), rest):
            parts.append((f"{folder}/{sub_folder}" if sub_folder else folder, rows))
    return sorted(parts, key=lambda part: part[0])
