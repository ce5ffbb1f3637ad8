"""Checkpoints for resuming a killed run.

A checkpoint directory holds `manifest.json` (a fingerprint of the pipeline: stage classes,
names and parameters) and one marker file per source partition whose outputs have all been
written by the pipeline's last stage (`done/<pipeline digest>-<key>.done`, written atomically
and fsynced). A rerun with the same pipeline skips those partitions from the first stage on; a
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
import shutil
from pathlib import Path
from typing import Any

from raycurator.backends.report import write_text_atomic
from raycurator.errors import PipelineConfigError
from raycurator.stages.base import ProcessingStage

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
    """The finished partitions of a pipeline, persisted in `directory`."""

    def __init__(
        self, directory: str | os.PathLike[str], stages: list[ProcessingStage], start_over: bool = False
    ) -> None:
        self.directory = Path(directory)
        self.done_dir = self.directory / "done"
        fingerprint = pipeline_fingerprint(stages)
        self.prefix = fingerprint["digest"][:16] + "-"  # markers belong to this pipeline only
        manifest_path = self.directory / "manifest.json"
        if manifest_path.exists() and not start_over:
            previous = _read_manifest(manifest_path)
            if previous.get("digest") != fingerprint["digest"]:
                raise PipelineConfigError(
                    f"the checkpoint in {self.directory} was written by a different pipeline "
                    f"({_difference(previous.get('stages', []), fingerprint['stages'])}); rerun the same pipeline to "
                    "resume, or start over (CLI: --start-over; executor config: checkpoint_start_over=True), which "
                    "discards the checkpoint"
                )
        elif start_over and self.directory.exists():
            logger.warning("starting over: discarding the checkpoint in %s", self.directory)
            shutil.rmtree(self.done_dir, ignore_errors=True)
        self.done_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        write_text_atomic(manifest_path, json.dumps(fingerprint, indent=2, sort_keys=True), FILE_MODE)
        self.done: set[str] = {
            p.name[len(self.prefix) : -len(".done")] for p in self.done_dir.glob(f"{self.prefix}*.done")
        }
        others = sum(1 for p in self.done_dir.glob("*.done") if not p.name.startswith(self.prefix))
        if others:
            logger.warning(
                "%d finished partition(s) in %s belong to another pipeline; they are not reused", others, self.done_dir
            )
        self.recorded = 0

    def record(self, key: str) -> None:
        """Mark partition `key` finished (durably: temp file, fsync, rename)."""
        if key in self.done:
            return
        write_text_atomic(self.done_dir / f"{self.prefix}{key}.done", key, FILE_MODE)
        self.done.add(key)
        self.recorded += 1


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PipelineConfigError(
            f"the checkpoint manifest {path} cannot be read ({type(error).__name__}: {error}); it may have been "
            "cut short. Start over (CLI: --start-over; executor config: checkpoint_start_over=True) to discard "
            "the checkpoint"
        ) from error
    if not isinstance(manifest, dict):
        raise PipelineConfigError(
            f"the checkpoint manifest {path} is not a JSON object; start over (CLI: --start-over) to discard it"
        )
    return manifest


def _difference(old: list[dict], new: list[dict]) -> str:
    if [s.get("class") for s in old] != [s.get("class") for s in new]:
        return f"stages were {[s.get('name') for s in old]}, now {[s.get('name') for s in new]}"
    for before, after in zip(old, new, strict=True):
        if before != after:
            return f"stage '{after.get('name')}' changed its parameters"
    return "its fingerprint changed"
