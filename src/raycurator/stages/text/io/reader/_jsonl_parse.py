"""Parsing JSON Lines bytes into Arrow: pyarrow's reader first, a line-by-line check when it fails.

Before anything parses it, every line is checked for nesting deeper than `MAX_JSON_DEPTH`
(a vectorised scan of the bracket bytes, strings left out): such lines are malformed, since
deep nesting makes JSON parsers recurse until they crash. The fast path is `pyarrow.json`
(multi-threaded). When it rejects the data, each line is
checked with the standard `json` module so the error can name the file and line number, or,
with `skip_malformed`, so the bad lines can be dropped; the good lines are then parsed by
pyarrow again, keeping the column types the fast path would give. Strings pyarrow would turn
into timestamps are kept as strings, so text survives a round trip unchanged.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.json as pj

logger = logging.getLogger(__name__)

DEFAULT_BLOCK_SIZE = 16 << 20
#: Lines nesting objects/arrays deeper than this are malformed (parsers recurse once per level).
MAX_JSON_DEPTH = 100
_JSON_STRING = re.compile(rb'"[^"\\\n]*(?:\\.[^"\\\n]*)*"')  # one string, never across lines


@dataclass(frozen=True)
class MalformedLine:
    """A line that is not a usable JSON object: its 1-based number, a reason identifier and the details."""

    line: int
    reason: str
    detail: str


@dataclass
class ParseResult:
    """A parsed file: its table and the malformed lines skipped."""

    table: pa.Table
    skipped: list[MalformedLine] = field(default_factory=list)

    @property
    def skipped_lines(self) -> list[int]:
        """The 1-based numbers of the skipped lines."""
        return [m.line for m in self.skipped]


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


def line_depths(data: bytes) -> np.ndarray:
    """The deepest nesting of objects/arrays on each line of `data` (brackets inside strings do not count)."""
    codes = np.frombuffer(_JSON_STRING.sub(b'""', data), dtype=np.uint8)
    if not len(codes):
        return np.zeros(1, dtype=np.int64)
    steps = ((codes == 0x5B) | (codes == 0x7B)).view(np.int8) - ((codes == 0x5D) | (codes == 0x7D)).view(np.int8)
    running = np.cumsum(steps, dtype=np.int64)
    newlines = np.flatnonzero(codes == 0x0A)
    starts = np.concatenate(([0], newlines + 1))
    before = np.concatenate(([0], running[newlines]))  # the running depth where each line starts
    depths = np.zeros(len(starts), dtype=np.int64)
    inside = starts < len(codes)
    depths[inside] = np.maximum.reduceat(running, starts[inside]) - before[inside]
    return np.maximum(depths, 0)


def too_deep_lines(data: bytes, limit: int = MAX_JSON_DEPTH) -> list[tuple[int, int]]:
    """(line number, depth) of the lines of `data` nesting deeper than `limit`.

    Only lines with more than `limit` opening brackets (a count done with NumPy) are scanned exactly.
    """
    codes = np.frombuffer(data, dtype=np.uint8)
    openers = np.flatnonzero((codes == 0x5B) | (codes == 0x7B))
    if len(openers) <= limit:
        return []
    newlines = np.flatnonzero(codes == 0x0A)
    per_line = np.bincount(np.searchsorted(newlines, openers), minlength=len(newlines) + 1)
    suspects = np.flatnonzero(per_line > limit)
    if not len(suspects):
        return []
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [len(codes)]))
    depths = line_depths(b"\n".join(data[starts[i] : ends[i]] for i in suspects))
    return [(int(i) + 1, int(d)) for i, d in zip(suspects, depths, strict=True) if d > limit]


def _blank_lines(data: bytes, numbers: set[int]) -> bytes:
    """`data` with the given lines emptied (line numbering unchanged)."""
    lines = data.split(b"\n")
    for number in numbers:
        lines[number - 1] = b""
    return b"\n".join(lines)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def type_conflicts(rows: list[dict], numbers: list[int]) -> list[MalformedLine]:
    """Lines whose value of some field has another JSON type than most lines give that field."""
    kinds: dict[str, Counter[str]] = {}
    for row in rows:
        for name, value in row.items():
            if value is not None:
                kinds.setdefault(name, Counter())[_kind(value)] += 1
    expected = {name: counts.most_common(1)[0][0] for name, counts in kinds.items() if len(counts) > 1}
    conflicts = []
    if not expected:
        return conflicts
    for row, number in zip(rows, numbers, strict=True):
        for name, kind in expected.items():
            value = row.get(name)
            if value is not None and _kind(value) != kind:
                detail = f"field '{name}' is a {_kind(value)} ({str(value)[:40]!r}) where other lines have a {kind}"
                conflicts.append(MalformedLine(number, "field_type", detail))
                break
    return conflicts


def _python_table(rows: list[dict], path: str) -> pa.Table:
    """A table from parsed rows; columns in order of first appearance, missing values null."""
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    try:
        return pa.table({name: pa.array([row.get(name) for row in rows]) for name in names})
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as error:
        raise ValueError(f"file {path}: values of one field have incompatible types: {error}") from error


def _check_lines(
    data: bytes, path: str, skip_malformed: bool
) -> tuple[list[bytes], list[dict], list[int], list[MalformedLine]]:
    """(good raw lines, their parsed objects, their line numbers, malformed lines skipped);
    raises on a bad line unless skipping."""
    good: list[bytes] = []
    rows: list[dict] = []
    numbers: list[int] = []
    skipped: list[MalformedLine] = []
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
            reason = (
                "invalid_utf8"
                if isinstance(error, UnicodeDecodeError)
                else "not_an_object"
                if "expected a JSON object" in str(error)
                else "invalid_json"
            )
            skipped.append(MalformedLine(number, reason, str(error)))
            continue
        good.append(raw)
        rows.append(value)
        numbers.append(number)
    return good, rows, numbers, skipped


def parse_jsonl(
    data: bytes, path: str, skip_malformed: bool = False, block_size: int = DEFAULT_BLOCK_SIZE
) -> ParseResult:
    """Parse the bytes of a JSON Lines file named `path` (the name is only used in messages)."""
    if not data or data.isspace():
        return ParseResult(pa.table({}))
    skipped: list[MalformedLine] = []
    deep = too_deep_lines(data)
    if deep:
        number, depth = deep[0]
        if not skip_malformed:
            raise MalformedJsonError(
                f"malformed JSON in file {path} at line {number}: nested {depth} levels deep "
                f"(more than {MAX_JSON_DEPTH}); skip such lines with skip_malformed=True"
            )
        skipped = [
            MalformedLine(n, "too_deep", f"nested {d} levels deep (more than {MAX_JSON_DEPTH})") for n, d in deep
        ]
        data = _blank_lines(data, {n for n, _ in deep})
        if data.isspace() or not data.replace(b"\n", b""):
            _warn(path, skipped)
            return ParseResult(pa.table({}), skipped)
    try:
        return _finish(ParseResult(_arrow_parse(data, block_size), skipped), path)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
        arrow_error = error
    good, rows, numbers, bad = _check_lines(data, path, skip_malformed)
    skipped.extend(bad)
    conflicts = type_conflicts(rows, numbers) if good else []
    if conflicts and not skip_malformed:
        first = conflicts[0]
        raise MalformedJsonError(
            f"malformed JSON in file {path} at line {first.line}: {first.detail} "
            f"({len(conflicts)} such line(s); skip them with skip_malformed=True)"
        )
    if conflicts:
        drop = {c.line for c in conflicts}
        kept = [i for i, n in enumerate(numbers) if n not in drop]
        good, rows = [good[i] for i in kept], [rows[i] for i in kept]
        skipped.extend(conflicts)
    skipped.sort(key=lambda m: m.line)
    if not good:
        return _finish(ParseResult(pa.table({}), skipped), path)
    if skipped:
        try:
            return _finish(ParseResult(_arrow_parse(b"\n".join(good), block_size), skipped), path)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
            arrow_error = error
    logger.debug("pyarrow could not read %s (%s); building the table in Python", path, arrow_error)
    return _finish(ParseResult(_python_table(rows, path), skipped), path)


def _finish(result: ParseResult, path: str) -> ParseResult:
    if result.skipped:
        _warn(path, result.skipped)
    return result


def _warn(path: str, skipped: list[MalformedLine]) -> None:
    reasons = Counter(m.reason for m in skipped)
    logger.warning(
        "skipped %d malformed JSON line(s) in %s (first at line %d; %s)",
        len(skipped),
        path,
        skipped[0].line,
        ", ".join(f"{reason}: {count}" for reason, count in sorted(reasons.items())),
    )
