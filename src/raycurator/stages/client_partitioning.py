"""`ClientPartitioningStage`: partitions the files a client lists (a JSON file) or that lie under a root.

NeMo Curator 1.4's stage of the same name: `file_paths` is one root (local path or fsspec
URL); with `input_list_json_path` the files to read are the entries of that JSON array (each
must lie under the root), otherwise every file under the root. Extensions, `limit` and
`files_per_partition` / `blocksize` then apply as in `FilePartitioningStage`.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import fsspec

from raycurator.stages.file_partitioning import (
    FilePartitioningStage,
    _matches_extension,
    list_files,
)

logger = logging.getLogger(__name__)


def read_input_list(root: str, json_path: str, storage_options: dict[str, Any] | None = None) -> list[str]:
    """The sorted, de-duplicated paths listed in the JSON array at `json_path`; each must be under `root`."""
    with fsspec.open(json_path, "rb", **(storage_options or {})) as handle:
        listed = json.load(handle)
    if not isinstance(listed, list):
        raise TypeError(f"input list {json_path}: expected a JSON array of paths, got {type(listed).__name__}")
    prefix = root.rstrip("/") + "/"
    paths: list[str] = []
    for position, entry in enumerate(listed):
        path = str(entry)
        if not path.startswith(prefix):
            raise ValueError(f"input list {json_path}, entry {position}: {path} is not under {prefix}")
        paths.append(path)
    return sorted(dict.fromkeys(paths))


class ClientPartitioningStage(FilePartitioningStage):
    """Emits one `FileGroupTask` per partition of the files under `file_paths` (or listed in a JSON file)."""

    def __init__(
        self,
        file_paths: str,
        files_per_partition: int | None = None,
        blocksize: int | str | None = None,
        file_extensions: list[str] | None = None,
        storage_options: dict[str, Any] | None = None,
        limit: int | None = None,
        input_list_json_path: str | None = None,
    ) -> None:
        if not isinstance(file_paths, str):
            raise ValueError(f"ClientPartitioningStage: file_paths must be one root path, got {file_paths!r}")
        super().__init__(file_paths, files_per_partition, blocksize, file_extensions, storage_options, limit)
        self.input_list_json_path = input_list_json_path
        self._name = "client_partitioning"

    def _listed_files(self) -> list[tuple[str, int]]:
        root = self.file_paths[0]
        if self.input_list_json_path is None:
            return list_files(root, self.file_extensions, self.storage_options)
        paths = read_input_list(root, self.input_list_json_path, self.storage_options)
        paths = [p for p in paths if _matches_extension(p, self.file_extensions)]
        if self.blocksize is None:
            return [(p, 0) for p in paths]
        fs, _ = fsspec.core.url_to_fs(root, **self.storage_options)
        return [(p, int(fs.info(p).get("size") or 0)) for p in paths]

    def _partition_metadata(self, index: int, total: int) -> dict[str, Any]:
        return {"partition_index": index, "total_partitions": total, "storage_options": dict(self.storage_options)}


__all__ = ["ClientPartitioningStage", "read_input_list"]
