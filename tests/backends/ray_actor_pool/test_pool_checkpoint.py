"""Checkpoints: finished source partitions are recorded and skipped on a rerun."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from ray import cloudpickle

from raycurator import DocumentBatch, PipelineConfigError, ProcessingStage
from raycurator.backends.checkpoint import pipeline_fingerprint
from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
from raycurator.stages.text.filters import ScoreFilter
from raycurator.stages.text.filters.heuristic import WordCountFilter
from raycurator.stages.text.io.reader import JsonlReader
from raycurator.stages.text.io.writer import JsonlWriter

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.usefixtures("shared_ray")


class FailOn(ProcessingStage[DocumentBatch, DocumentBatch]):
    _name = "fail_on"

    def __init__(self, bad_file: str) -> None:
        self.bad_file = bad_file

    def process(self, task: DocumentBatch) -> DocumentBatch:
        if any(f.endswith(self.bad_file) for f in task.source_files):
            raise ValueError("broken partition")
        return task


def corpus(directory: Path, files: int = 6, docs: int = 20) -> Path:
    directory.mkdir()
    for f in range(files):
        lines = [json.dumps({"id": f"{f}-{d}", "text": " ".join(["word"] * (d + 1))}) for d in range(docs)]
        (directory / f"part-{f}.jsonl").write_text("\n".join(lines) + "\n")
    return directory


def stages(data: Path, out: Path, min_words: int = 5, extra: list | None = None) -> list[ProcessingStage]:
    reader = JsonlReader(str(data), files_per_partition=1)
    return [
        *reader.decompose(),
        *(extra or []),
        ScoreFilter(WordCountFilter(min_words=min_words)),
        JsonlWriter(str(out)),
    ]


def run_command_options() -> set[str]:
    """Every option `raycurator run` accepts."""
    import typer

    from raycurator.cli.main import app

    command = typer.main.get_command(app).commands["run"]
    return {option for param in command.params for option in param.opts}


def run(stage_list, checkpoint: Path, **config):
    executor = RayActorPoolExecutor(config={"checkpoint_dir": str(checkpoint), **config}, show_progress=False)
    executor.execute(stage_list)
    return executor.last_report.extra["checkpoint"], executor.last_report


def written_rows(out: Path) -> list[str]:
    return sorted(json.loads(line)["id"] for p in out.glob("*.jsonl") for line in p.read_text().splitlines())


def test_rerun_skips_finished_partitions_and_a_changed_pipeline_is_refused(tmp_path) -> None:
    data, out, checkpoint = corpus(tmp_path / "in"), tmp_path / "out", tmp_path / "ckpt"
    figures, _ = run(stages(data, out), checkpoint)
    assert figures["partitions_seen"] == 6 and figures["partitions_finished"] == 6
    assert len(list((checkpoint / "done").glob("*.done"))) == 6
    first = written_rows(out)
    assert len(first) == 6 * 16

    figures, report = run(stages(data, out), checkpoint)
    assert figures["partitions_skipped"] == 6 and figures["partitions_finished"] == 0
    assert report.stages[1].tasks_in == 0, "skipped partitions must not be read again"
    assert written_rows(out) == first

    changed = stages(data, out, min_words=7)
    (filter_name,) = [stage.name for stage in changed if isinstance(stage, ScoreFilter)]
    with pytest.raises(PipelineConfigError) as info:
        run(changed, checkpoint)
    message = str(info.value)
    assert f"different pipeline (stage '{filter_name}' changed its parameters)" in message
    assert "executor config: checkpoint_start_over=True" in message
    (flag,) = re.findall(r"CLI: (--[\w-]+)", message)
    assert flag in run_command_options(), f"the hint names {flag}, which `raycurator run` does not accept"
    figures, _ = run(stages(data, out, min_words=7), checkpoint, checkpoint_start_over=True)
    assert figures["partitions_skipped"] == 0 and figures["partitions_finished"] == 6


def test_a_partition_with_a_skipped_failure_is_not_recorded(tmp_path) -> None:
    data, out, checkpoint = corpus(tmp_path / "in"), tmp_path / "out", tmp_path / "ckpt"
    figures, _ = run(stages(data, out, extra=[FailOn("part-3.jsonl")]), checkpoint, on_error="skip")
    assert figures["partitions_finished"] == 5
    figures, _ = run(stages(data, out, extra=[FailOn("part-3.jsonl")]), checkpoint, on_error="skip")
    assert figures["partitions_skipped"] == 5 and figures["partitions_finished"] == 0


def test_fingerprint_is_stable_and_sees_parameters(tmp_path) -> None:
    a = pipeline_fingerprint(stages(tmp_path, tmp_path / "o"))
    b = pipeline_fingerprint(stages(tmp_path, tmp_path / "o"))
    c = pipeline_fingerprint(stages(tmp_path, tmp_path / "o", min_words=6))
    assert a["digest"] == b["digest"] != c["digest"]
    assert " at 0x" not in json.dumps(a)
