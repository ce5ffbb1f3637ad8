"""Vectorised per-document text statistics over Arrow string arrays.

Counts are computed on the UTF-8 bytes with NumPy: ASCII characters through a 256-entry
lookup table, other characters by decoding their code points at the lead bytes and looking
them up in a table built from Python's own `str` predicates (astral-plane characters, rare,
are asked of Python directly). The results therefore equal the
scalar Python definitions (`str.isalnum`, `str.isspace`, `len(text.split())`, ...) exactly,
at NumPy speed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache
from itertools import pairwise

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_MAX_CODE_POINT = 0x110000
_BMP_SIZE = 0x10000
_SLICE_BYTES = 4 << 20

#: The predicates `count_chars` understands, by name.
CHAR_PREDICATES: dict[str, Callable[[str], bool]] = {
    "alnum": str.isalnum,
    "alpha": str.isalpha,
    "decimal": str.isdecimal,
    "space": str.isspace,
}


def register_char_predicate(name: str, predicate: Callable[[str], bool]) -> None:
    """Make `predicate` (one character -> bool) usable by `count_chars` and `words_with_char` as `name`."""
    if CHAR_PREDICATES.setdefault(name, predicate) is not predicate:
        raise ValueError(f"a different character predicate is already registered as {name!r}")


def to_string_array(texts: Iterable[str] | pa.Array | pa.ChunkedArray) -> pa.Array:
    """`texts` as one contiguous (large_)string array whose nulls are empty strings."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks() if texts.num_chunks != 1 else texts.chunk(0)
    if not isinstance(texts, pa.Array):
        texts = pa.array(list(texts), type=pa.string())
    if not (pa.types.is_string(texts.type) or pa.types.is_large_string(texts.type)):
        if pa.types.is_string_view(texts.type):
            texts = texts.cast(pa.large_string())
        else:
            raise TypeError(f"expected an array of strings, got one of type {texts.type}")
    if texts.null_count:
        texts = pc.fill_null(texts, "")
    return texts


def python_texts(texts: Iterable[str] | pa.Array | pa.ChunkedArray) -> list[str]:
    """`texts` as a list of Python strings (nulls become empty strings)."""
    if isinstance(texts, pa.Array | pa.ChunkedArray):
        return [t if t is not None else "" for t in texts.to_pylist()]
    return ["" if t is None else t for t in texts]


@cache
def code_point_table(predicate: str) -> np.ndarray:
    """A bool per Basic Multilingual Plane code point: whether the predicate holds for it."""
    test = CHAR_PREDICATES[predicate]
    return np.fromiter((test(chr(i)) for i in range(_BMP_SIZE)), dtype=bool, count=_BMP_SIZE)


@cache
def _ascii_lut(predicate: str) -> np.ndarray:
    lut = np.zeros(256, dtype=np.uint8)
    lut[:128] = code_point_table(predicate)[:128]
    return lut


def classify_code_points(code_points: np.ndarray, predicate: str) -> np.ndarray:
    """Whether the predicate holds, per code point (table for the BMP, Python for the rest)."""
    table = code_point_table(predicate)
    inside = code_points < _BMP_SIZE
    if inside.all():
        return table[code_points]
    hits = np.zeros(len(code_points), dtype=bool)
    hits[inside] = table[code_points[inside]]
    test = CHAR_PREDICATES[predicate]
    astral, inverse = np.unique(code_points[~inside], return_inverse=True)
    hits[~inside] = np.array([test(chr(int(c))) for c in astral], dtype=bool)[inverse]
    return hits


def string_buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets rebased to 0, the UTF-8 bytes of the rows) of a string array, without copies."""
    offset_type = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets_buf, data_buf = arr.buffers()[1], arr.buffers()[2]
    offsets = np.frombuffer(offsets_buf, dtype=offset_type)[arr.offset : arr.offset + len(arr) + 1]
    offsets = offsets.astype(np.int64)
    if data_buf is None or len(arr) == 0:
        return np.zeros(len(arr) + 1, dtype=np.int64), np.zeros(0, dtype=np.uint8)
    data = np.frombuffer(data_buf, dtype=np.uint8)[offsets[0] : offsets[-1]]
    return offsets - offsets[0], data


def _segment_sums(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Sum of `values[offsets[i]:offsets[i+1]]` for every row i (0 for empty rows)."""
    starts, ends = offsets[:-1], offsets[1:]
    out = np.zeros(len(starts), dtype=np.int64)
    nonempty = ends > starts
    if len(values) and nonempty.any():
        out[nonempty] = np.add.reduceat(values, starts[nonempty], dtype=np.int64)
    return out


def _decode_lead_bytes(data: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions, code points and byte lengths of the multi-byte characters in valid UTF-8."""
    lead = np.flatnonzero(data >= 0xC0)
    if not len(lead):
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    last = len(data) - 1
    b0 = data[lead].astype(np.int64)
    b1 = data[np.minimum(lead + 1, last)].astype(np.int64) & 0x3F
    b2 = data[np.minimum(lead + 2, last)].astype(np.int64) & 0x3F
    b3 = data[np.minimum(lead + 3, last)].astype(np.int64) & 0x3F
    two, three = b0 < 0xE0, (b0 >= 0xE0) & (b0 < 0xF0)
    code_points = np.where(
        two,
        ((b0 & 0x1F) << 6) | b1,
        np.where(three, ((b0 & 0x0F) << 12) | (b1 << 6) | b2, ((b0 & 0x07) << 18) | (b1 << 12) | (b2 << 6) | b3),
    )
    lengths = np.where(two, 2, np.where(three, 3, 4))
    return lead, np.minimum(code_points, _MAX_CODE_POINT - 1), lengths


def _char_flags(data: np.ndarray, predicate: str, *, spread: bool = False) -> np.ndarray:
    """Per byte: 1 at the first byte of every character satisfying `predicate`, else 0.

    With `spread=True` the continuation bytes of such characters are flagged too.
    """
    flags = _ascii_lut(predicate)[data]
    lead, code_points, lengths = _decode_lead_bytes(data)
    if len(lead):
        hits = classify_code_points(code_points, predicate)
        flags[lead] = hits
        if spread and hits.any():
            for extra in (1, 2, 3):
                chosen = lead[hits & (lengths > extra)]
                flags[chosen + extra] = 1
    return flags


def char_lengths(texts: pa.Array) -> np.ndarray:
    """Number of characters of every string."""
    return pc.utf8_length(texts).to_numpy(zero_copy_only=False).astype(np.int64)


def _in_slices(texts: pa.Array, compute: Callable[[pa.Array], np.ndarray]) -> np.ndarray:
    """`compute` over row slices of about `_SLICE_BYTES` each, concatenated.

    Bounded temporaries stay in cache and avoid page-faulting fresh memory on big batches.
    """
    offsets, _ = string_buffers(texts)
    if offsets[-1] <= _SLICE_BYTES:
        return compute(texts)
    cuts = np.searchsorted(offsets, np.arange(_SLICE_BYTES, offsets[-1], _SLICE_BYTES))
    rows = np.unique(np.concatenate([[0], np.minimum(cuts, len(texts)), [len(texts)]]))
    parts = [compute(texts.slice(int(a), int(b - a))) for a, b in pairwise(rows)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def count_chars(texts: pa.Array, predicate: str) -> np.ndarray:
    """Per string: how many characters satisfy `CHAR_PREDICATES[predicate]`."""
    return _in_slices(texts, lambda part: _count_chars(part, predicate))


def _count_chars(texts: pa.Array, predicate: str) -> np.ndarray:
    offsets, data = string_buffers(texts)
    return _segment_sums(_char_flags(data, predicate), offsets)


def word_counts(texts: pa.Array) -> np.ndarray:
    """Per string: `len(text.split())`, i.e. runs of non-whitespace characters."""
    return _in_slices(texts, _word_counts)


def _word_counts(texts: pa.Array) -> np.ndarray:
    offsets, data = string_buffers(texts)
    if not len(data):
        return np.zeros(len(texts), dtype=np.int64)
    space = _char_flags(data, "space", spread=True).view(bool)
    previous_is_space = np.empty_like(space)
    previous_is_space[0] = True
    previous_is_space[1:] = space[:-1]
    row_starts = offsets[:-1][offsets[:-1] < len(data)]
    previous_is_space[row_starts] = True
    starts = ~space & previous_is_space
    return _segment_sums(starts.view(np.uint8), offsets)


def count_substring(texts: pa.Array, pattern: str, ignore_case: bool = False) -> np.ndarray:
    """Per string: non-overlapping occurrences of the literal `pattern`."""
    counts = pc.count_substring(texts, pattern, ignore_case=ignore_case)
    return counts.to_numpy(zero_copy_only=False).astype(np.int64)


def safe_ratio(numerator: np.ndarray, denominator: np.ndarray, empty_value: float = 0.0) -> np.ndarray:
    """`numerator / denominator` as float64, `empty_value` where the denominator is 0."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    out = np.full(len(numerator), empty_value, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


@cache
def _ascii_set_lut(chars: str) -> np.ndarray:
    lut = np.zeros(256, dtype=np.uint8)
    for char in chars:
        if ord(char) >= 128:
            raise ValueError(f"count_ascii_set counts ASCII characters only, got {char!r}")
        lut[ord(char)] = 1
    return lut


def count_ascii_set(texts: pa.Array, chars: str) -> np.ndarray:
    """Per string: how many characters are among the ASCII characters `chars`.

    In UTF-8 an ASCII byte is always a whole character, so counting bytes is exact.
    """

    def compute(part: pa.Array) -> np.ndarray:
        offsets, data = string_buffers(part)
        return _segment_sums(_ascii_set_lut(chars)[data], offsets)

    return _in_slices(texts, compute)


def words_with_char(texts: pa.Array, predicate: str) -> np.ndarray:
    """Per string: how many whitespace words (as `str.split()`) hold a character satisfying `predicate`."""
    return _in_slices(texts, lambda part: _words_with_char(part, predicate))


def _words_with_char(texts: pa.Array, predicate: str) -> np.ndarray:
    offsets, data = string_buffers(texts)
    if not len(data):
        return np.zeros(len(texts), dtype=np.int64)
    space = _char_flags(data, "space", spread=True).view(bool)
    previous_is_space = np.empty_like(space)
    previous_is_space[0] = True
    previous_is_space[1:] = space[:-1]
    row_starts = offsets[:-1][offsets[:-1] < len(data)]
    previous_is_space[row_starts] = True
    starts = ~space & previous_is_space
    word_id = np.cumsum(starts) - 1  # the word each byte belongs to (spaces: the previous word)
    hits = _char_flags(data, predicate).view(bool) & ~space
    if not starts.any():
        return np.zeros(len(texts), dtype=np.int64)
    has_hit = np.zeros(int(starts.sum()), dtype=bool)
    has_hit[word_id[hits]] = True
    start_positions = np.flatnonzero(starts)
    flags = np.zeros(len(data), dtype=np.uint8)
    flags[start_positions[has_hit]] = 1
    return _segment_sums(flags, offsets)
