"""A first stage that only lists inputs runs in the driver (no actor), with the same results."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from ray import cloudpickle

from raycurator import StageExecutionError
from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
from raycurator.stages.file_partitioning import FilePartitioningStage
from raycurator.stages.text.io.reader import JsonlReader
from raycurator.stages.text.io.writer import JsonlWriter

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.usefixtures("shared_ray")


class WhereListed(FilePartitioningStage):
    """File partitioning that records the process it listed in."""

    def __init__(self, marker_dir: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.marker_dir = marker_dir

    def process(self, task):
        Path(self.marker_dir, f"listed-by-{os.getpid()}").touch()
        return super().process(task)


def corpus(directory: Path, files: int = 4, docs: int = 5) -> Path:
    directory.mkdir()
    for f in range(files):
        lines = [json.dumps({"id": f"{f}-{d}", "text": f"document {d} of file {f}"}) for d in range(docs)]
        (directory / f"part-{f}.jsonl").write_text("\n".join(lines) + "\n")
    return directory


def ids(folder: Path) -> list[str]:
    return sorted(json.loads(line)["id"] for p in folder.glob("*.jsonl") for line in p.read_text().splitlines())


@pytest.mark.parametrize("on_driver", [True, False])
def test_partitioning_runs_in_the_driver_unless_turned_off(tmp_path, on_driver, alive_actors) -> None:
    data, markers = corpus(tmp_path / "in"), tmp_path / "markers"
    markers.mkdir()
    listing = WhereListed(str(markers), file_paths=str(data), files_per_partition=1, file_extensions=[".jsonl"])
    reader = JsonlReader(str(data)).decompose()[1]  # the reading stage alone
    executor = RayActorPoolExecutor(config={"source_on_driver": on_driver}, show_progress=False)
    executor.execute([listing, reader, JsonlWriter(str(tmp_path / "out"))])
    assert ids(tmp_path / "out") == sorted(f"{f}-{d}" for f in range(4) for d in range(5))
    listed_by = [int(p.name.rsplit("-", 1)[1]) for p in markers.iterdir()]
    assert (listed_by == [os.getpid()]) is on_driver, listed_by
    report = executor.last_report
    assert [s.stage_name for s in report.stages] == ["file_partitioning", "jsonl_reader", "jsonl_writer"]
    first = report.stage("file_partitioning")
    assert (first.tasks_in, first.tasks_out) == (1, 4) and report.balanced
    # reader and writer fuse into one group of actors; the listing needs none of its own when on the driver
    assert report.extra["actors_started_total"] == report.stage("jsonl_reader").actors_started + (not on_driver)
    assert report.extra["startup"]["marks_s"]["first_row"] >= report.extra["startup"]["marks_s"]["ray_connected"]
    assert not alive_actors()


def test_a_listing_error_names_the_stage(tmp_path) -> None:
    missing = tmp_path / "no-such-folder"
    executor = RayActorPoolExecutor(show_progress=False)
    with pytest.raises(StageExecutionError) as info:
        executor.execute([*JsonlReader(str(missing)).decompose(), JsonlWriter(str(tmp_path / "out"))])
    assert info.value.stage_name == "file_partitioning" and str(missing) in str(info.value)
    assert executor.last_report.status == "failed"
