"""Output files of the writers: safe deterministic names, atomic writes, collision markers, records.

Names: a task id becomes a file stem made only of `[A-Za-z0-9._-]`, never starting with "."
or "_"; when the id had to be changed, a hash of the original id is appended so that two
different ids never share a name.

Collisions across workers: every task of a run started by `FilePartitioningStage` carries a
`run_id`. Before writing `NAME`, a writer creates `<path>/.raycurator_run/markers/<run_id>/NAME.marker`
exclusively (fails when it exists) holding the task id and a hash of the bytes to write. If the
marker exists with different content, another task of the same run wrote `NAME`: that is a
collision and an error. The same content again (a retried task) is allowed. Filesystems
without exclusive create fall back to check-then-write, which can miss a simultaneous collision.

Records: after writing a file, a writer records it (relative path, rows, bytes, checksum) in
`<path>/.raycurator_run/records/`. The hidden `.raycurator_run` folder (markers, records, the
run's lock) lives only while a run is unfinished: when the run succeeds, the driver turns the
records into the `_SUCCESS` manifest and removes the folder (see `output_folder`).
"""

from __future__ import annotations

import glob
import hashlib
import logging
import os
import posixpath
import re
import uuid

import fsspec
import xxhash

from raycurator.stages.text.io._fs import is_local
from raycurator.utils.storage import puts_whole_objects

logger = logging.getLogger(__name__)

STATE_DIR = ".raycurator_run"
MARKERS = "markers"
RECORDS = "records"
_TEMPORARY = re.compile(r"^\..+\.[0-9a-f]{32}\.tmp$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_STEM = 150


class OutputCollisionError(RuntimeError):
    """Two different tasks of one run would write the same output file."""


def file_stem(task_id: str) -> str:
    """A file-name stem for `task_id`: deterministic, safe, and distinct for distinct ids."""
    stem = _UNSAFE.sub("_", task_id).lstrip("._")[:_MAX_STEM]
    if stem != task_id:
        digest = hashlib.sha1(task_id.encode("utf-8")).hexdigest()[:10]
        stem = f"{stem or 'task'}-{digest}"
    return stem


def join_inside(root: str, name: str) -> str:
    """`root/name`, verified to stay directly inside `root`."""
    if not name or "/" in name or "\\" in name or name in (".", ".."):
        raise ValueError(f"unsafe output file name {name!r}")
    joined = posixpath.join(root.rstrip("/") or "/", name)
    if posixpath.dirname(posixpath.normpath(joined)) != posixpath.normpath(root.rstrip("/") or "/"):
        raise ValueError(f"output file {name!r} would land outside {root!r}")
    return joined


def state_dir(root: str) -> str:
    """The hidden folder of an output folder's unfinished run (markers, records, lock)."""
    return join_inside(root, STATE_DIR)


def is_temporary(name: str) -> bool:
    """Whether a file name is one of `atomic_write`'s temporary files."""
    return bool(_TEMPORARY.match(name))


def record_path(root: str, relative: str) -> str:
    """Where the record of output file `relative` (a path inside `root`) lives."""
    return join_inside(join_inside(state_dir(root), RECORDS), f"{file_stem(relative)}.json")


def content_hash(data: bytes) -> str:
    """A short fingerprint of the bytes a task writes."""
    return xxhash.xxh3_128_hexdigest(data)


def claim(fs: fsspec.AbstractFileSystem, root: str, run_id: str, name: str, owner: str) -> None:
    """Record that `owner` (task id + content hash) writes `name` in run `run_id`, or raise on a collision."""
    directory = join_inside(join_inside(state_dir(root), MARKERS), file_stem(run_id))
    marker = join_inside(directory, f"{file_stem(name)}.marker")
    payload = owner.encode("utf-8")
    fs.makedirs(directory, exist_ok=True)
    try:
        if is_local(fs):
            with open(marker, "xb") as handle:
                handle.write(payload)
        else:
            with fs.open(marker, "xb") as handle:
                handle.write(payload)
        return
    except FileExistsError:
        pass
    except (ValueError, NotImplementedError):  # no exclusive create on this filesystem
        if not fs.exists(marker):
            fs.pipe_file(marker, payload)
            return
    existing = fs.cat_file(marker)
    if existing != payload:
        other = existing.decode("utf-8", errors="replace").split("\n", 1)[0]
        this = owner.split("\n", 1)[0]
        raise OutputCollisionError(
            f"output file {name!r} under {root} is written twice in one run: by task {other!r} and by task "
            f"{this!r} with different content; task ids must be unique"
        )


def _remove_stale_temporaries(fs: fsspec.AbstractFileSystem, directory: str, name: str, keep: str) -> None:
    """Delete temporary files of `name` left behind by an earlier, killed attempt."""
    pattern = join_inside(directory, f".{name}.*.tmp")
    try:
        stale = glob.glob(pattern) if is_local(fs) else fs.glob(pattern)
    except OSError:
        return
    for leftover in stale:
        if leftover != keep:
            try:
                os.remove(leftover) if is_local(fs) else fs.rm(leftover)
            except OSError:
                pass


def atomic_write(fs: fsspec.AbstractFileSystem, path: str, data: bytes, sweep: bool = True) -> None:
    """Write `data` to `path` via a hidden temporary file in the same folder and a rename.

    With `sweep`, temporary files of the same name left by a killed attempt are removed. On
    object storage (no rename) the final key is written once, directly: a PUT is atomic there
    (see `raycurator.utils.storage`).
    """
    directory = posixpath.dirname(path)
    if puts_whole_objects(fs):
        # object storage: no rename, and none needed; one PUT shows the whole object or nothing
        fs.makedirs(directory, exist_ok=True)
        fs.pipe_file(path, data)
        return
    temporary = join_inside(directory, f".{posixpath.basename(path)}.{uuid.uuid4().hex}.tmp")
    try:
        if is_local(fs):
            os.makedirs(directory, exist_ok=True)
            with open(temporary, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())  # durable before a checkpoint can record it
            os.replace(temporary, path)
        else:  # other filesystems (sftp, hdfs, ...): a temporary file and their rename
            fs.makedirs(directory, exist_ok=True)
            fs.pipe_file(temporary, data)
            fs.mv(temporary, path)
        if sweep:
            _remove_stale_temporaries(fs, directory, posixpath.basename(path), keep=temporary)
    except BaseException:
        try:
            if is_local(fs):
                if os.path.exists(temporary):
                    os.remove(temporary)
            elif fs.exists(temporary):
                fs.rm(temporary)
        except Exception as cleanup_error:  # keep the original error
            logger.warning("could not remove temporary file %s: %s", temporary, cleanup_error)
        raise
