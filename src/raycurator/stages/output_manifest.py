"""The manifest a writer leaves in its output folder after a successful run: `_SUCCESS`.

Like Hadoop's and Spark's `_SUCCESS` marker, its presence says the run that wrote the folder
finished. Unlike theirs it is not empty: a JSON object listing every file that run wrote
(paths relative to the folder, rows, bytes and an xxh3-128 checksum of the bytes), so a reader
can read exactly one complete run even when the folder holds other files.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass, field
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

MANIFEST_NAME = "_SUCCESS"
MANIFEST_FORMAT = "raycurator-output-manifest"
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class ManifestEntry:
    """One file of a run: its path relative to the output folder, rows, bytes, checksum."""

    path: str
    rows: int
    bytes: int
    xxh3_128: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "rows": self.rows, "bytes": self.bytes, "xxh3_128": self.xxh3_128}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ManifestEntry:
        return cls(str(data["path"]), int(data["rows"]), int(data["bytes"]), str(data["xxh3_128"]))


@dataclass
class Manifest:
    """The content of `_SUCCESS`."""

    run: str
    writer: str
    mode: str
    files: list[ManifestEntry] = field(default_factory=list)

    @property
    def total_rows(self) -> int:
        return sum(entry.rows for entry in self.files)

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": MANIFEST_FORMAT,
                "version": MANIFEST_VERSION,
                "run": self.run,
                "writer": self.writer,
                "mode": self.mode,
                "total_rows": self.total_rows,
                "files": [entry.to_dict() for entry in sorted(self.files, key=lambda e: e.path)],
            },
            indent=1,
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str, where: str) -> Manifest:
        try:
            data = json.loads(text)
            if data.get("format") != MANIFEST_FORMAT:
                raise ValueError(f"format is {data.get('format')!r}, not {MANIFEST_FORMAT!r}")
            return cls(
                run=str(data["run"]),
                writer=str(data.get("writer", "")),
                mode=str(data.get("mode", "")),
                files=[ManifestEntry.from_dict(entry) for entry in data["files"]],
            )
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"{where} is not a raycurator output manifest: {error}") from None


def manifest_path(root: str) -> str:
    return posixpath.join(root.rstrip("/") or "/", MANIFEST_NAME)


def read_manifest(fs: fsspec.AbstractFileSystem, root: str) -> Manifest | None:
    """The manifest in folder `root`, or None when there is none."""
    path = manifest_path(root)
    try:
        text = fs.cat_file(path).decode("utf-8")
    except FileNotFoundError:
        return None
    return Manifest.from_json(text, path)


def manifest_files(folder: str, storage_options: dict[str, Any] | None = None) -> list[tuple[str, int]]:
    """(path, size) of every file the manifest of `folder` lists, each checked to exist with its size.

    Raises FileNotFoundError when `folder` has no manifest (its run did not finish) or a listed
    file is missing, ValueError when a file's size differs from the manifest's.
    """
    fs, root = fsspec.core.url_to_fs(folder, **(storage_options or {}))
    manifest = read_manifest(fs, root)
    if manifest is None:
        raise FileNotFoundError(
            f"no {MANIFEST_NAME} manifest in {folder}: the run writing it has not finished successfully "
            "(or the folder was not written by a raycurator writer)"
        )
    found = []
    for entry in manifest.files:
        relative = posixpath.normpath(entry.path)
        if relative.startswith(("../", "/")) or relative == "..":
            raise ValueError(f"{manifest_path(folder)} lists {entry.path!r}, outside the folder")
        path = posixpath.join(root.rstrip("/"), relative)
        try:
            size = int(fs.info(path).get("size") or 0)
        except FileNotFoundError:
            raise FileNotFoundError(
                f"{manifest_path(folder)} lists {entry.path!r}, which is missing: the folder was changed after its run"
            ) from None
        if size != entry.bytes:
            raise ValueError(
                f"{manifest_path(folder)} lists {entry.path!r} with {entry.bytes} bytes, but it has {size}: "
                "the folder was changed after its run"
            )
        found.append((path if isinstance(fs, LocalFileSystem) else fs.unstrip_protocol(path), size))
    return found
