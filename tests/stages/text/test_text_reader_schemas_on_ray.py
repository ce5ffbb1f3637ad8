"""Files with incompatible schemas in one partition, read on the actor pool (the session's local Ray)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from raycurator import Pipeline
from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
from raycurator.stages.text.io.reader import JsonlReader
from raycurator.stages.text.io.writer import JsonlWriter

pytestmark = pytest.mark.usefixtures("shared_ray")


def corpus(folder: Path) -> Path:
    """Four files; part-0 and part-1 (one partition) disagree on `meta`: a number, then an object."""
    folder.mkdir()
    meta = {0: 1, 1: {"a": "x"}, 2: 2, 3: 3}
    for f in range(4):
        rows = [json.dumps({"id": f"{f}-{d}", "text": f"doc {f} {d}", "meta": meta[f]}) for d in range(5)]
        (folder / f"part-{f}.jsonl").write_text("\n".join(rows) + "\n")
    return folder


def pipeline(data: Path, out: Path) -> Pipeline:
    return Pipeline("schemas", stages=[JsonlReader(str(data), files_per_partition=2), JsonlWriter(str(out))])


def test_incompatible_schemas_in_one_partition_name_the_stage_task_and_files(tmp_path) -> None:
    data = corpus(tmp_path / "in")
    with pytest.raises(Exception) as info:  # the executor's error type wraps the reader's; the message is checked
        pipeline(data, tmp_path / "out").run(RayActorPoolExecutor(show_progress=False))
    message = str(info.value)
    assert "incompatible schemas" in message, message
    assert "jsonl_reader" in message, message
    assert str(data / "part-0.jsonl") in message and str(data / "part-1.jsonl") in message, message


def test_with_skip_the_partition_is_a_counted_failure_and_the_rest_is_written(tmp_path) -> None:
    data, out = corpus(tmp_path / "in"), tmp_path / "out"
    executor = RayActorPoolExecutor(config={"on_error": "skip"}, show_progress=False)
    pipeline(data, out).run(executor)
    written = sorted(json.loads(line)["id"] for f in out.glob("*.jsonl") for line in f.read_text().splitlines())
    assert written == sorted(f"{f}-{d}" for f in (2, 3) for d in range(5))
    reader = executor.last_report.stage("jsonl_reader")
    assert reader.tasks_failed == 1
    ledger = Path(executor.last_report.log_dir, "failures.jsonl").read_text()
    assert "incompatible schemas" in ledger and "part-1.jsonl" in ledger
