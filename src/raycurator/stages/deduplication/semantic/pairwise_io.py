"""`ClusterWiseFilePartitioningStage`: one task per cluster directory written by `KMeansStage`."""

from __future__ import annotations

import logging
import posixpath
import re
from typing import Any

from raycurator.stages.base import ProcessingStage, RayStageSpecKeys
from raycurator.stages.resources import Resources
from raycurator.stages.text.io._fs import url_to_fs
from raycurator.tasks import FileGroupTask, Task

logger = logging.getLogger(__name__)

_CENTROID_DIR = re.compile(r"^centroid=(\d+)$")


def cluster_directories(input_path: str, storage_options: dict[str, Any] | None = None) -> dict[int, list[str]]:
    """`{cluster id: sorted Parquet files}` of the ``centroid=<k>`` folders under `input_path`."""
    fs, root = url_to_fs(input_path, storage_options)
    if not fs.exists(root):
        raise FileNotFoundError(f"k-means output '{input_path}' does not exist")
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    clusters: dict[int, list[str]] = {}
    for entry in fs.ls(root, detail=False):
        match = _CENTROID_DIR.match(posixpath.basename(entry.rstrip("/")))
        if not match:
            continue
        files = sorted(
            f for f in fs.find(entry)
            if f.endswith(".parquet") and not posixpath.basename(f).startswith((".", "_"))
        )  # fmt: skip
        if files:
            local = protocol in ("file", "local")
            clusters[int(match.group(1))] = [f if local else fs.unstrip_protocol(f) for f in files]
    return dict(sorted(clusters.items()))


class ClusterWiseFilePartitioningStage(ProcessingStage[Task, FileGroupTask]):
    """From the start token, one `FileGroupTask` per cluster (metadata `centroid_id`, `filetype`)."""

    def __init__(self, input_path: str, storage_options: dict[str, Any] | None = None) -> None:
        self.input_path = input_path
        self.storage_options = storage_options
        self._name = "pairwise_file_partitioning"
        self._resources = Resources(cpus=0.5)

    def ray_stage_spec(self) -> dict[str, Any]:
        return {RayStageSpecKeys.IS_FANOUT_STAGE: True}

    def num_workers(self) -> int | None:
        return 1

    def process(self, task: Task) -> list[FileGroupTask]:
        clusters = cluster_directories(self.input_path, self.storage_options)
        if not clusters:
            logger.warning("stage '%s': no centroid=<k> folders under '%s'", self.name, self.input_path)
        dataset = posixpath.basename(self.input_path.rstrip("/")) or "clusters"
        return [
            FileGroupTask(
                task_id=f"cluster_{centroid}",
                dataset_name=dataset,
                data=files,
                _metadata={"centroid_id": centroid, "filetype": "parquet", "source_files": list(files)},
            )
            for centroid, files in clusters.items()
        ]
