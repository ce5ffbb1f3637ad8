"""Resuming never mixes data: changed inputs, another pipeline's markers, damaged manifests, secrets."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from raycurator import PipelineConfigError
from raycurator.backends.checkpoint import CheckpointStore, partition_key, pipeline_fingerprint
from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
from raycurator.stages.text.filters import ScoreFilter
from raycurator.stages.text.filters.heuristic import WordCountFilter
from raycurator.stages.text.io.reader import JsonlReader
from raycurator.stages.text.io.writer import JsonlWriter


def corpus(directory: Path, files: int = 3, docs: int = 5) -> Path:
    directory.mkdir(parents=True)
    for f in range(files):
        lines = [json.dumps({"id": f"{f}-{d}", "text": " ".join(["word"] * (d + 1))}) for d in range(docs)]
        (directory / f"part-{f}.jsonl").write_text("\n".join(lines) + "\n")
    return directory


def stages(data: Path, out: Path, min_words: int = 2, storage_options: dict | None = None) -> list:
    reader = JsonlReader(str(data), files_per_partition=1, storage_options=storage_options)
    return [*reader.decompose(), ScoreFilter(WordCountFilter(min_words=min_words)), JsonlWriter(str(out))]


def run(stage_list: list, checkpoint: Path) -> dict:
    executor = RayActorPoolExecutor(config={"checkpoint_dir": str(checkpoint)}, show_progress=False)
    executor.execute(stage_list)
    return executor.last_report.extra["checkpoint"]


def ids(out: Path) -> list[str]:
    return sorted(json.loads(line)["id"] for p in out.glob("*.jsonl") for line in p.read_text().splitlines())


def test_partition_key_changes_with_size_and_mtime(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"text": "a"}\n')
    first = partition_key("p0", [str(path)])
    assert partition_key("p0", [str(path)]) == first
    with path.open("a") as handle:
        handle.write('{"text": "b"}\n')
    assert partition_key("p0", [str(path)]) != first
    appended = partition_key("p0", [str(path)])
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))  # same size, touched
    assert partition_key("p0", [str(path)]) != appended


def test_secrets_never_reach_the_manifest_and_files_are_private(tmp_path):
    secret_options = {"key": "AKIAEXAMPLE", "secret": "hunter2-secret", "client_kwargs": {"aws_session_token": "tok3n"}}
    stage_list = stages(tmp_path, tmp_path / "o", storage_options=secret_options)
    store = CheckpointStore(tmp_path / "ckpt", stage_list)
    store.record("p0-abc")
    manifest = (tmp_path / "ckpt" / "manifest.json").read_text()
    for secret in ("AKIAEXAMPLE", "hunter2-secret", "tok3n"):
        assert secret not in manifest
        assert secret not in json.dumps(pipeline_fingerprint(stage_list))
    assert os.stat(tmp_path / "ckpt" / "manifest.json").st_mode & 0o777 == 0o600
    (marker,) = (tmp_path / "ckpt" / "done").glob("*.done")
    assert marker.stat().st_mode & 0o777 == 0o600
    # other credentials, same pipeline: the same fingerprint (credentials do not change results)
    other = stages(tmp_path, tmp_path / "o", storage_options={**secret_options, "secret": "other"})
    assert pipeline_fingerprint(other)["digest"] == pipeline_fingerprint(stage_list)["digest"]


def test_a_damaged_manifest_is_a_clear_error_suggesting_start_over(tmp_path):
    stage_list = stages(tmp_path, tmp_path / "o")
    CheckpointStore(tmp_path / "ckpt", stage_list)
    manifest = tmp_path / "ckpt" / "manifest.json"
    manifest.write_text(manifest.read_text()[:40])  # cut short
    with pytest.raises(PipelineConfigError, match=r"manifest .*manifest\.json cannot be read.*--start-over"):
        CheckpointStore(tmp_path / "ckpt", stage_list)
    with pytest.raises(PipelineConfigError, match="--start-over") as info:
        CheckpointStore(tmp_path / "ckpt", stages(tmp_path, tmp_path / "o", min_words=9), start_over=False)
    assert "--restart" not in str(info.value)
    CheckpointStore(tmp_path / "ckpt", stage_list, start_over=True)  # starting over repairs it


@pytest.mark.usefixtures("shared_ray")
def test_resume_processes_appended_documents_and_never_reuses_another_pipelines_results(tmp_path):
    data, out, checkpoint = corpus(tmp_path / "in"), tmp_path / "out", tmp_path / "ckpt"
    figures = run(stages(data, out), checkpoint)
    assert figures["partitions_finished"] == 3 and len(ids(out)) == 3 * 4
    # documents appended to one input file: that partition is new work on resume
    with (data / "part-1.jsonl").open("a") as handle:
        handle.write(json.dumps({"id": "1-new", "text": "appended later on"}) + "\n")
    figures = run(stages(data, out), checkpoint)
    assert (figures["partitions_skipped"], figures["partitions_finished"]) == (2, 1)
    assert "1-new" in ids(out)
    # the manifest deleted, then another pipeline (other parameters): nothing of the old one is reused
    (checkpoint / "manifest.json").unlink()
    figures = run(stages(data, tmp_path / "out2", min_words=4), checkpoint)
    assert (figures["partitions_skipped"], figures["partitions_finished"]) == (0, 3)
    assert ids(tmp_path / "out2") == ["0-3", "0-4", "1-3", "1-4", "2-3", "2-4"]  # the new pipeline's own output
