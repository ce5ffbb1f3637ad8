"""Checkpoints for resuming a killed run.

A checkpoint directory holds `manifest.json` (a fingerprint of the pipeline: stage classes,
names and parameters) and one marker file per source partition whose outputs have all been
written by the pipeline's last stage (`done/<pipeline digest>-<key>.done`, written atomically
and fsynced; the directory may be on object storage, see `raycurator.utils.storage`).
A rerun with the same pipeline skips those partitions from the first stage on; a
changed pipeline is refused unless the caller asks to start over, and markers of another
pipeline are never taken as done (even when the manifest is gone). A partition's key covers its
task id and, per source file, the path, size and modification time, so a file changed since
(e.g. appended to) is processed again. Parameter values under secret-looking names (keys,
tokens, passwords, ...) never reach the manifest; checkpoint files are written with mode 0600.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from typing import Any

from raycurator.errors import PipelineConfigError
from raycurator.stages.base import ProcessingStage
from raycurator.utils import storage

logger = logging.getLogger(__name__)

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
#: Parameter and option names whose values are secrets: left out of fingerprints and manifests.
SECRET_NAME = re.compile(
    r"(secret|passw|token|credential|api_?key|access_?key|private_?key|account_?key|conn(ection)?_?str"
    r"|authorization|^auth$|^key$)",
    re.IGNORECASE,
)
REDACTED = "<secret: left out>"
FILE_MODE = 0o600


def _stable(value: Any, depth: int = 0) -> Any:
    """A JSON-able, run-independent description of a stage parameter."""
    if depth > 6:
        return type(value).__name__
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        items = [_stable(v, depth + 1) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    if isinstance(value, dict):
        return {
            str(k): REDACTED if SECRET_NAME.search(str(k)) else _stable(v, depth + 1)
            for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))
        }
    if isinstance(value, re.Pattern):
        return {"regex": value.pattern, "flags": value.flags}
    if hasattr(value, "__dict__") and not callable(value):
        attributes = dict(vars(value))  # driver-side stages hold construction state only
        return {"__class__": f"{type(value).__module__}.{type(value).__qualname__}", **_stable(attributes, depth + 1)}
    return _ADDRESS.sub("", repr(value))


def pipeline_fingerprint(stages: list[ProcessingStage]) -> dict[str, Any]:
    """What identifies a pipeline for resuming: each stage's class, name and parameters."""
    described = [
        {"class": f"{type(s).__module__}.{type(s).__qualname__}", "name": s.name, "params": _stable(s)} for s in stages
    ]
    digest = hashlib.sha256(json.dumps(described, sort_keys=True, default=str).encode()).hexdigest()
    return {"digest": digest, "stages": described}


def _file_version(path: str) -> list[Any]:
    """`[path, size, mtime_ns]` of a local file; `[path]` when it cannot be looked at from here."""
    local = path[len("file://") :] if path.startswith("file://") else path
    if "://" in local:
        return [path]  # remote objects: keyed by path only (see docs/security.md)
    try:
        stat = os.stat(local)
    except OSError:
        return [path]
    return [path, stat.st_size, stat.st_mtime_ns]


def partition_key(task_id: str, source_files: tuple[str, ...] | list[str]) -> str:
    """A partition's checkpoint key: its task id plus a hash of its files' paths, sizes and
    modification times (a changed input is new work)."""
    versions = [_file_version(f) for f in source_files]
    files = hashlib.sha1(json.dumps(versions).encode()).hexdigest()[:16]
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", task_id)[:100]
    return f"{safe}-{files}"


class CheckpointStore:
    """The finished partitions of a pipeline, persisted in `directory` (a local folder or an fsspec URL).

    On object storage each marker is one object written whole (no rename there; see
    `raycurator.utils.storage`); `storage_options` go to the filesystem.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        stages: list[ProcessingStage],
        start_over: bool = False,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        self.directory = str(directory)
        self.storage_options = storage_options
        self.done_dir = storage.join(self.directory, "done")
        fingerprint = pipeline_fingerprint(stages)
        self.prefix = fingerprint["digest"][:16] + "-"  # markers belong to this pipeline only
        manifest_path = storage.join(self.directory, "manifest.json")
        if storage.exists(manifest_path, storage_options) and not start_over:
            previous = _read_manifest(manifest_path, storage_options)
            if previous.get("digest") != fingerprint["digest"]:
                raise PipelineConfigError(
                    f"the checkpoint in {storage.redact_url(self.directory)} was written by a different pipeline "
                    f"({_difference(previous.get('stages', []), fingerprint['stages'])}); rerun the same pipeline to "
                    "resume, or start over (CLI: --start-over; executor config: checkpoint_start_over=True), which "
                    "discards the checkpoint"
                )
        elif start_over and storage.exists(self.directory, storage_options):
            logger.warning("starting over: discarding the checkpoint in %s", storage.redact_url(self.directory))
            storage.remove(self.done_dir, storage_options, recursive=True)
        storage.make_private_folder(self.done_dir, storage_options)
        storage.make_private_folder(self.directory, storage_options)
        text = json.dumps(fingerprint, indent=2, sort_keys=True)
        storage.write_atomic(manifest_path, text.encode("utf-8"), storage_options, FILE_MODE)
        names = [n for n in storage.list_names(self.done_dir, storage_options) if n.endswith(".done")]
        self.done: set[str] = {n[len(self.prefix) : -len(".done")] for n in names if n.startswith(self.prefix)}
        others = sum(1 for n in names if not n.startswith(self.prefix))
        if others:
            logger.warning(
                "%d finished partition(s) in %s belong to another pipeline; they are not reused",
                others,
                storage.redact_url(self.done_dir),
            )
        self.recorded = 0

    def record(self, key: str) -> None:
        """Mark partition `key` finished (durably: temp file, fsync, rename; one whole object on object storage)."""
        if key in self.done:
            return
        marker = storage.join(self.done_dir, f"{self.prefix}{key}.done")
        storage.write_atomic(marker, key.encode("utf-8"), self.storage_options, FILE_MODE)
        self.done.add(key)
        self.recorded += 1


def _read_manifest(path: str, storage_options: dict[str, Any] | None = None) -> dict[str, Any]:
    try:
        manifest = json.loads(storage.read_bytes(path, storage_options).decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PipelineConfigError(
            f"the checkpoint manifest {storage.redact_url(path)} cannot be read ({type(error).__name__}: "
            f"{storage.scrub(str(error), storage_options)}); it may have been cut short. Start over (CLI: "
            "--start-over; executor config: checkpoint_start_over=True) to discard the checkpoint"
        ) from error
    if not isinstance(manifest, dict):
        raise PipelineConfigError(
            f"the checkpoint manifest {storage.redact_url(path)} is not a JSON object; start over (CLI: "
            "--start-over) to discard it"
        )
    return manifest


def _difference(old: list[dict], new: list[dict]) -> str:
    if [s.get("class") for s in old] != [s.get("class") for s in new]:
        return f"stages were {[s.get('name') for s in old]}, now {[s.get('name') for s in new]}"
    for before, after in zip(old, new, strict=True):
        if before != after:
            return f"stage '{after.get('name')}' changed its parameters"
    return "its fingerprint changed"
