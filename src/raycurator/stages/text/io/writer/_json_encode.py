"""Encoding Arrow tables as JSON Lines, column by column with pyarrow.compute.

Strings, numbers, booleans, lists and structs are encoded vectorised (recursively); other
types (maps, dates, decimals, binary, ...) through the standard `json` module, one value at a
time. Non-ASCII text is written as UTF-8, not escaped.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from raycurator.stages.text._arrow_text import string_buffers

_SLICE_BYTES = 256 << 20
_COMMON_ESCAPES = (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"))


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _escape_strings(values: pa.Array) -> pa.Array:
    """JSON string bodies (no quotes) of a null-free string array."""
    for old, new in _COMMON_ESCAPES:
        values = pc.replace_substring(values, old, new)
    _, data = string_buffers(values)
    controls = np.unique(data[data < 0x20]) if len(data) else ()
    for code in controls:
        values = pc.replace_substring(values, chr(code), f"\\u{code:04x}")
    return values


def _join(pieces: list[Any]) -> pa.Array:
    """Element-wise concatenation of string arrays and string scalars."""
    return pc.binary_join_element_wise(*pieces, "")


def _encode_string(column: pa.Array) -> pa.Array:
    body = _escape_strings(pc.fill_null(column, "") if column.null_count else column)
    if body.type != pa.string():
        body = body.cast(pa.string())
    return _join([pa.scalar('"'), body, pa.scalar('"')])


def _encode_float(column: pa.Array) -> pa.Array:
    """Shortest round-trip decimal text, with ".0" on whole numbers so they read back as floats."""
    text = pc.cast(column, pa.string())
    whole = pc.match_substring_regex(text, r"^-?[0-9]+$")
    text = pc.if_else(whole, _join([text, pa.scalar(".0")]), text)
    text = pc.if_else(pc.equal(text, "nan"), "NaN", text)
    text = pc.if_else(pc.equal(text, "inf"), "Infinity", text)
    return pc.if_else(pc.equal(text, "-inf"), "-Infinity", text)


def _encode_list(column: pa.Array) -> pa.Array:
    values = encode_column(column.values)
    array_class = pa.LargeListArray if pa.types.is_large_list(column.type) else pa.ListArray
    joined = pc.binary_join(array_class.from_arrays(column.offsets, values), ",")
    return _join([pa.scalar("["), pc.fill_null(joined, ""), pa.scalar("]")])


def _encode_struct(column: pa.Array) -> pa.Array:
    if column.type.num_fields == 0:
        return pa.array(["{}"] * len(column), type=pa.string())
    pieces: list[Any] = []
    for index, (field, child) in enumerate(zip(column.type, column.flatten(), strict=True)):
        key = json.dumps(field.name, ensure_ascii=False)
        pieces.append(pa.scalar(("{" if index == 0 else ",") + key + ":"))
        pieces.append(encode_column(child))
    pieces.append(pa.scalar("}"))
    return _join(pieces)


def _encode_python(column: pa.Array) -> pa.Array:
    texts = [json.dumps(v, ensure_ascii=False, default=_json_default) for v in column.to_pylist()]
    return pa.array(texts, type=pa.string())


def encode_column(column: pa.Array) -> pa.Array:
    """The JSON text of every value of `column` ("null" for nulls), as a string array.

    Strings, numbers, booleans, lists and structs are encoded with pyarrow.compute; other
    types (maps, dates, decimals, binary, ...) through the `json` module, one value at a time.
    """
    data_type = column.type
    if pa.types.is_null(data_type):
        return pa.array(["null"] * len(column), type=pa.string())
    if pa.types.is_dictionary(data_type):
        return encode_column(column.dictionary_decode())
    if pa.types.is_string(data_type) or pa.types.is_large_string(data_type):
        encoded = _encode_string(column)
    elif pa.types.is_integer(data_type) or pa.types.is_boolean(data_type):
        encoded = pc.cast(column, pa.string())
    elif pa.types.is_floating(data_type):
        encoded = _encode_float(column)
    elif pa.types.is_list(data_type) or pa.types.is_large_list(data_type):
        encoded = _encode_list(column)
    elif pa.types.is_struct(data_type):
        encoded = _encode_struct(column)
    else:
        return _encode_python(column)
    if column.null_count:
        encoded = pc.if_else(pc.is_null(column), pa.scalar("null"), encoded)
    return encoded


def _encode_slice(table: pa.Table, keys: list[str]) -> bytes:
    pieces: list[Any] = []
    for index, (key, column) in enumerate(zip(keys, table.columns, strict=True)):
        prefix = ("{" if index == 0 else ",") + key + ":"
        pieces.append(pa.scalar(prefix))
        pieces.append(encode_column(column.combine_chunks()))
    pieces.append(pa.scalar("}\n"))
    lines = pc.binary_join_element_wise(*pieces, "")
    _, data = string_buffers(lines)
    return data.tobytes()


def table_to_jsonl(table: pa.Table) -> bytes:
    """The JSON Lines bytes of `table`: one object per row, keys in column order."""
    if table.num_rows == 0:
        return b""
    if table.num_columns == 0:
        return b"{}\n" * table.num_rows
    keys = [json.dumps(name, ensure_ascii=False) for name in table.column_names]
    rows_per_slice = max(1, int(table.num_rows * _SLICE_BYTES / max(1, table.nbytes)))
    parts = [
        _encode_slice(table.slice(start, rows_per_slice), keys) for start in range(0, table.num_rows, rows_per_slice)
    ]
    return parts[0] if len(parts) == 1 else b"".join(parts)
