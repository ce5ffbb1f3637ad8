"""Parsing JSON Lines bytes into Arrow: pyarrow's reader first, a line-by-line check when it fails.

The fast path is `pyarrow.json` (multi-threaded). When it rejects the data, each line is
checked with the standard `json` module so the error can name the file and line number, or,
with `skip_malformed`, so the bad lines can be dropped; the good lines are then parsed by
pyarrow again, keeping the column types the fast path would give. Strings pyarrow would turn
into timestamps are kept as strings, so text survives a round trip unchanged.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.json as pj

logger = logging.getLogger(__name__)

DEFAULT_BLOCK_SIZE = 16 << 20


@dataclass
class ParseResult:
    """A parsed file: its table and the malformed lines skipped (1-based line numbers)."""

    table: pa.Table
    skipped_lines: list[int] = field(default_factory=list)


class MalformedJsonError(ValueError):
    """A line of a JSON Lines file is not a JSON object."""


def _contains_temporal(data_type: pa.DataType) -> bool:
    if pa.types.is_temporal(data_type):
        return True
    return any(_contains_temporal(data_type.field(i).type) for i in range(data_type.num_fields))


def _temporal_as_string(data_type: pa.DataType) -> pa.DataType:
    """`data_type` with every inferred timestamp/date replaced by string (recursively)."""
    if pa.types.is_temporal(data_type):
        return pa.string()
    if pa.types.is_struct(data_type):
        return pa.struct([f.with_type(_temporal_as_string(f.type)) for f in data_type])
    if pa.types.is_list(data_type):
        return pa.list_(data_type.value_field.with_type(_temporal_as_string(data_type.value_type)))
    if pa.types.is_large_list(data_type):
        return pa.large_list(data_type.value_field.with_type(_temporal_as_string(data_type.value_type)))
    return data_type


def _arrow_parse(data: bytes, block_size: int) -> pa.Table:
    """pyarrow's parse of `data`, with inferred timestamps read back as the original strings."""

    def read(schema: pa.Schema | None, size: int) -> pa.Table:
        return pj.read_json(
            pa.BufferReader(data),
            read_options=pj.ReadOptions(block_size=size),
            parse_options=pj.ParseOptions(explicit_schema=schema),
        )

    try:
        table = read(None, block_size)
    except pa.ArrowInvalid as error:
        if "straddl" not in str(error) or block_size > len(data):
            raise
        block_size = len(data) + 1  # one record is larger than a block: read the file as one block
        table = read(None, block_size)
    if any(_contains_temporal(f.type) for f in table.schema):
        schema = pa.schema([f.with_type(_temporal_as_string(f.type)) for f in table.schema])
        table = read(schema, block_size)
    table.validate(full=True)  # pyarrow does not check UTF-8 in strings; this does
    return table


def _python_table(rows: list[dict], path: str) -> pa.Table:
    """A table from parsed rows; columns in order of first appearance, missing values null."""
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    try:
        return pa.table({name: pa.array([row.get(name) for row in rows]) for name in names})
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as error:
        raise ValueError(f"file {path}: values of one field have incompatible types: {error}") from error


def _check_lines(data: bytes, path: str, skip_malformed: bool) -> tuple[list[bytes], list[dict], list[int]]:
    """(good raw lines, their parsed objects, numbers of skipped lines); raises on a bad line unless skipping."""
    good: list[bytes] = []
    rows: list[dict] = []
    skipped: list[int] = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
            if not isinstance(value, dict):
                raise ValueError(f"expected a JSON object, got {type(value).__name__}")
        except ValueError as error:  # includes JSONDecodeError and invalid UTF-8
            if not skip_malformed:
                raise MalformedJsonError(f"malformed JSON in file {path} at line {number}: {error}") from None
            skipped.append(number)
            continue
        good.append(raw)
        rows.append(value)
    return good, rows, skipped


def parse_jsonl(
    data: bytes, path: str, skip_malformed: bool = False, block_size: int = DEFAULT_BLOCK_SIZE
) -> ParseResult:
    """Parse the bytes of a JSON Lines file named `path` (the name is only used in messages)."""
    if not data or data.isspace():
        return ParseResult(pa.table({}))
    try:
        return ParseResult(_arrow_parse(data, block_size))
    except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
        arrow_error = error
    good, rows, skipped = _check_lines(data, path, skip_malformed)
    if skipped:
        logger.warning("skipped %d malformed JSON line(s) in %s (first at line %d)", len(skipped), path, skipped[0])
    if not good:
        return ParseResult(pa.table({}), skipped)
    if skipped:
        try:
            return ParseResult(_arrow_parse(b"\n".join(good), block_size), skipped)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
            arrow_error = error
    logger.debug("pyarrow could not read %s (%s); building the table in Python", path, arrow_error)
    return ParseResult(_python_table(rows, path), skipped)
