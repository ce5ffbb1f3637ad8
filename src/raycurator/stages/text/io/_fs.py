"""Small fsspec helpers shared by the readers and writers."""

from __future__ import annotations

from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem


def url_to_fs(path: str, storage_options: dict[str, Any] | None = None) -> tuple[fsspec.AbstractFileSystem, str]:
    """The filesystem of `path` and the path within it."""
    return fsspec.core.url_to_fs(path, **(storage_options or {}))


def is_local(fs: fsspec.AbstractFileSystem) -> bool:
    """Whether `fs` is the local filesystem (paths can go to `os` and pyarrow directly)."""
    return isinstance(fs, LocalFileSystem)


def read_bytes(path: str, storage_options: dict[str, Any] | None = None, compression: str | None = "infer") -> bytes:
    """The whole (decompressed, when the extension says so) content of `path`."""
    with fsspec.open(path, "rb", compression=compression, **(storage_options or {})) as handle:
        return handle.read()
