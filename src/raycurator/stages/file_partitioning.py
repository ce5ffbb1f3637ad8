"""`FilePartitioningStage`: turns input paths into `FileGroupTask`s (the partitions to read).

Paths go through fsspec, so local paths and remote URLs (s3://, gs://, memory://, ...) work
alike. A directory is listed recursively, skipping hidden entries (names starting with "."
or "_", e.g. `_SUCCESS` or writers' temporary files); a glob is expanded; a file is taken as
is. Files found by listing are filtered by extension; files named explicitly are not.
"""

from __future__ import annotations

import logging
import posixpath
import re
import uuid
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from raycurator.stages.base import ProcessingStage, RayStageSpecKeys
from raycurator.stages.output_manifest import manifest_files
from raycurator.stages.run_lifecycle import ReadsInputs
from raycurator.tasks import FileGroupTask, Task

logger = logging.getLogger(__name__)

#: Metadata key holding an id shared by all tasks of one pipeline run (see the writers).
RUN_ID_KEY = "run_id"

_UNITS = {
    "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
    "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12,
}  # fmt: skip
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-zA-Z]*)\s*$")
_GLOB_CHARS = re.compile(r"[*?\[]")


def parse_bytes(size: int | float | str) -> int:
    """A byte count from an int or a string such as "64MB", "1.5GiB" or "512kb" (MB = 10**6)."""
    if isinstance(size, bool):
        raise ValueError(f"not a size: {size!r}")
    if isinstance(size, int | float):
        value = int(size)
    else:
        match = _SIZE.match(str(size))
        unit = match.group(2).lower() if match else ""
        if not match or (unit and unit not in _UNITS):
            raise ValueError(f"not a size: {size!r} (examples: 1000000, '64MB', '1GiB')")
        value = int(float(match.group(1)) * _UNITS.get(unit, 1))
    if value <= 0:
        raise ValueError(f"a size must be positive, got {size!r}")
    return value


def _is_hidden(relative_path: str) -> bool:
    return any(part.startswith((".", "_")) for part in relative_path.split("/") if part)


def _matches_extension(path: str, extensions: list[str] | None) -> bool:
    return not extensions or path.lower().endswith(tuple(e.lower() for e in extensions))


def _dataset_name(path: str) -> str:
    """A short name for the dataset: the input directory's (or file's) base name, sanitised."""
    path = path.rstrip("/")
    if _GLOB_CHARS.search(path):
        path = posixpath.dirname(_GLOB_CHARS.split(path, maxsplit=1)[0])
    base = posixpath.basename(path.rstrip("/"))
    if not base.startswith("."):
        base = base.split(".", 1)[0]
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "_", base).strip("_")
    return cleaned or "dataset"


def _skip_irregular(name: str, info: dict[str, Any]) -> None:
    """Warn about an input entry that is not a regular file (a FIFO, socket, device): reading it could hang."""
    logger.warning("skipping '%s': not a regular file (type %s); only regular files are read", name, info.get("type"))


def list_files(
    file_paths: str | list[str],
    file_extensions: list[str] | None = None,
    storage_options: dict[str, Any] | None = None,
) -> list[tuple[str, int]]:
    """Sorted, de-duplicated (path, size) of the files that `file_paths` names.

    Raises FileNotFoundError naming a path that does not exist, or naming the inputs when
    nothing matches.
    """
    paths = [file_paths] if isinstance(file_paths, str) else list(file_paths)
    if not paths:
        raise ValueError("no input paths given")
    found: dict[str, int] = {}
    for path in paths:
        fs, root = fsspec.core.url_to_fs(path, **(storage_options or {}))
        local = isinstance(fs, LocalFileSystem)

        def full(p: str, fs: Any = fs, local: bool = local) -> str:
            return p if local else fs.unstrip_protocol(p)

        if _GLOB_CHARS.search(root):
            base = _GLOB_CHARS.split(root, maxsplit=1)[0]
            entries = fs.glob(root, detail=True)
            for name, info in sorted(entries.items()):
                relative = name[len(base) :] if name.startswith(base) else posixpath.basename(name)
                wanted = not _is_hidden(relative) and _matches_extension(name, file_extensions)
                if wanted and info.get("type") == "file":
                    found[full(name)] = int(info.get("size") or 0)
                elif wanted and info.get("type") != "directory":
                    _skip_irregular(name, info)
        elif fs.isdir(root):
            prefix = root.rstrip("/") + "/"
            for name, info in fs.find(root, detail=True).items():
                relative = name[len(prefix) :] if name.startswith(prefix) else posixpath.basename(name)
                if not _is_hidden(relative) and _matches_extension(name, file_extensions):
                    if info.get("type", "file") != "file":
                        _skip_irregular(name, info)
                        continue
                    found[full(name)] = int(info.get("size") or 0)
        elif fs.isfile(root):
            found[full(root)] = int(fs.info(root).get("size") or 0)
        elif fs.exists(root):
            raise FileNotFoundError(f"input path is not a regular file nor a folder (a pipe or device?): {path}")
        else:
            raise FileNotFoundError(f"input path does not exist: {path}")
    if not found:
        wanted = f" with extension(s) {file_extensions}" if file_extensions else ""
        raise FileNotFoundError(f"no input files{wanted} found under {paths}")
    return sorted(found.items())


def partition_files(
    files: list[tuple[str, int]], files_per_partition: int | None = None, blocksize: int | None = None
) -> list[list[str]]:
    """Groups of consecutive files: `files_per_partition` each, or up to `blocksize` bytes each.

    A file larger than `blocksize` forms a group alone (files are never split). Neither
    option: one file per group.
    """
    if blocksize is None:
        size = files_per_partition or 1
        return [[path for path, _ in files[i : i + size]] for i in range(0, len(files), size)]
    groups: list[list[str]] = []
    current: list[str] = []
    current_bytes = 0
    for path, nbytes in files:
        if current and current_bytes + nbytes > blocksize:
            groups.append(current)
            current, current_bytes = [], 0
        current.append(path)
        current_bytes += nbytes
    if current:
        groups.append(current)
    return groups


class FilePartitioningStage(ProcessingStage[Task, FileGroupTask], ReadsInputs):
    """Lists the input files and emits one `FileGroupTask` per partition.

    Input: the pipeline's start token (`EmptyTask`). Task ids are `"{dataset}_{index:06d}"`,
    where dataset is the input's base name and index the partition's position in the sorted
    file order, so a rerun over the same files yields the same ids. Every task carries
    `_metadata["source_files"]` and a `run_id` shared by all tasks of this run.

    With `use_manifest`, every path must be a folder written by a raycurator writer, and
    exactly the files its `_SUCCESS` manifest lists are read (one complete run; a folder
    without a manifest, or whose files changed since, is an error).
    """

    def __init__(
        self,
        file_paths: str | list[str],
        files_per_partition: int | None = None,
        blocksize: int | str | None = None,
        file_extensions: list[str] | None = None,
        storage_options: dict[str, Any] | None = None,
        limit: int | None = None,
        use_manifest: bool = False,
    ) -> None:
        if files_per_partition is not None and blocksize is not None:
            raise ValueError("FilePartitioningStage: give files_per_partition or blocksize, not both")
        if files_per_partition is not None and (not isinstance(files_per_partition, int) or files_per_partition < 1):
            raise ValueError(f"FilePartitioningStage: files_per_partition must be >= 1, got {files_per_partition!r}")
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise ValueError(f"FilePartitioningStage: limit must be a positive int, got {limit!r}")
        if isinstance(file_paths, str):
            file_paths = [file_paths]
        if not file_paths or not all(isinstance(p, str) and p for p in file_paths):
            raise ValueError(f"FilePartitioningStage: file_paths must be a path or a list of paths, got {file_paths!r}")
        self.file_paths = list(file_paths)
        self.files_per_partition = files_per_partition
        self.blocksize = parse_bytes(blocksize) if blocksize is not None else None
        self.file_extensions = list(file_extensions) if file_extensions else None
        self.storage_options = dict(storage_options or {})
        self.limit = limit
        self.use_manifest = bool(use_manifest)
        self._name = "file_partitioning"

    def input_paths(self) -> list[str]:
        return list(self.file_paths)

    def ray_stage_spec(self) -> dict[str, Any]:
        return {RayStageSpecKeys.IS_FANOUT_STAGE: True, RayStageSpecKeys.RUNS_ON_DRIVER: True}

    def _listed_files(self) -> list[tuple[str, int]]:
        """(path, size) of every input file, from the manifests when `use_manifest`."""
        if self.use_manifest:
            listed = {f: size for p in self.file_paths for f, size in manifest_files(p, self.storage_options)}
            return sorted(listed.items())
        return list_files(self.file_paths, self.file_extensions, self.storage_options)

    def _partition_metadata(self, index: int, total: int) -> dict[str, Any]:
        """Metadata a partition's task carries besides its files and the run id."""
        return {"partition_index": index}

    def process(self, task: Task) -> list[FileGroupTask]:
        try:
            files = self._listed_files()
        except (FileNotFoundError, TypeError, ValueError) as error:
            raise type(error)(f"stage '{self.name}': {error}") from error
        groups = partition_files(files, self.files_per_partition, self.blocksize)
        if self.limit is not None:
            groups = groups[: self.limit]
        dataset = _dataset_name(self.file_paths[0])
        run_id = uuid.uuid4().hex
        logger.info("stage '%s': %d file(s) in %d partition(s)", self.name, len(files), len(groups))
        return [
            FileGroupTask(
                task_id=f"{dataset}_{index:06d}",
                dataset_name=dataset,
                data=group,
                _metadata={
                    "source_files": list(group),
                    RUN_ID_KEY: run_id,
                    **self._partition_metadata(index, len(groups)),
                },
            )
            for index, group in enumerate(groups)
        ]
