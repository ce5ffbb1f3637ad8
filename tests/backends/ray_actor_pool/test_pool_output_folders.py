"""Output folders under the actor-pool executor: a failed run resumed from a checkpoint publishes one complete run."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from ray import cloudpickle

from raycurator import DocumentBatch, ProcessingStage, StageExecutionError
from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
from raycurator.stages.text.io.reader import JsonlReader
from raycurator.stages.text.io.writer import JsonlWriter

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.usefixtures("shared_ray")


class FailWhileFlagged(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Fails on one input file while a flag file exists (same parameters, so the checkpoint accepts the rerun)."""

    _name = "fail_while_flagged"

    def __init__(self, flag: str, bad_file: str) -> None:
        self.flag, self.bad_file = flag, bad_file

    def process(self, task: DocumentBatch) -> DocumentBatch:
        if os.path.exists(self.flag) and any(f.endswith(self.bad_file) for f in task.source_files):
            raise ValueError("broken partition")
        return task


def corpus(directory: Path, files: int = 6, docs: int = 6) -> Path:
    directory.mkdir()
    for f in range(files):
        rows = [{"id": f"{f}-{d}", "text": "word " * d, "language": ["en", "de", "fr"][d % 3]} for d in range(docs)]
        (directory / f"part-{f}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return directory


def test_a_failed_overwrite_run_resumes_into_one_complete_manifest(tmp_path) -> None:
    data, out, checkpoint, flag = corpus(tmp_path / "in"), tmp_path / "out", tmp_path / "ckpt", tmp_path / "flag"
    (out / "language=xx").mkdir(parents=True)
    (out / "language=xx" / "old.jsonl").write_text('{"id": "stale"}\n')  # an earlier run's output
    flag.write_text("fail")

    def run() -> dict:
        stages = [
            *JsonlReader(str(data)).decompose(),
            FailWhileFlagged(str(flag), "part-3.jsonl"),
            JsonlWriter(str(out), mode="overwrite", partition_by="language"),
        ]
        executor = RayActorPoolExecutor(config={"checkpoint_dir": str(checkpoint)}, show_progress=False)
        executor.execute(stages)
        return executor.last_report.extra["checkpoint"]

    with pytest.raises(StageExecutionError, match="broken partition"):
        run()
    assert not (out / "_SUCCESS").exists(), "a failed run publishes no manifest"
    assert not (out / ".raycurator_run" / "lock").exists(), "a failed run releases its lock"
    flag.unlink()
    figures = run()
    assert figures["partitions_skipped"] + figures["partitions_finished"] == 6
    assert sorted(os.listdir(out)) == ["_SUCCESS", "language=de", "language=en", "language=fr"]
    listed = json.loads((out / "_SUCCESS").read_text())
    assert listed["total_rows"] == 36 and len(listed["files"]) == 18
    read = sorted(json.loads(line)["id"] for p in out.rglob("*.jsonl") for line in p.read_text().splitlines())
    assert read == sorted(f"{f}-{d}" for f in range(6) for d in range(6))

    figures = run()  # everything done: nothing rewritten, nothing deleted, the same manifest
    assert figures["partitions_skipped"] == 6 and figures["partitions_finished"] == 0
    assert json.loads((out / "_SUCCESS").read_text())["files"] == listed["files"]
    assert len(list(out.rglob("*.jsonl"))) == 18
