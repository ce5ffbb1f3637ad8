"""Running pipelines end to end through the command: examples, a failing run, the demo.

The minimal example starts an embedded Ray in its subprocess (and stops it on exit), as a user's first
run does; the other runs on Ray join the test session's shared Ray (`cli_on_shared_ray`) to spare a Ray
start each.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.timeout(300)


def run_dir_of(log_dir: Path) -> Path:
    runs = [p for p in log_dir.iterdir() if (p / "report.json").exists()]
    assert len(runs) == 1, runs
    return runs[0]


def jsonl_rows(folder: Path) -> list[dict]:
    rows = []
    for file in sorted(folder.glob("*.jsonl")):
        rows.extend(json.loads(line) for line in file.read_text(encoding="utf-8").splitlines() if line.strip())
    return rows


def test_minimal_example_on_ray(cli, corpus_dir, tmp_path, html_report_check):
    out, runs = tmp_path / "out", tmp_path / "runs"
    result = cli(
        "run",
        "examples/minimal.yaml",
        "--set",
        f"stages.0.params.file_paths={corpus_dir}",
        "--set",
        f"stages.2.params.path={out}",
        "--set",
        "stages.1.params.filter_obj.WordCountFilter.min_words=60",
        "--log-dir",
        str(runs),
        "--checkpoint-dir",
        str(tmp_path / "checkpoint"),
    )
    assert result.returncode == 0, str(result)
    assert any((tmp_path / "checkpoint").iterdir())  # the executor recorded finished partitions
    run_dir = run_dir_of(runs)
    report = json.loads((run_dir / "report.json").read_text())
    assert report["status"] == "succeeded" and report["balanced"]
    names = [s["stage_name"] for s in report["stages"]]
    assert names == ["file_partitioning", "jsonl_reader", "ScoreFilter_word_count", "jsonl_writer"]
    for name in names:
        assert name in result.stdout
    html_report_check((run_dir / "report.html").read_text(), report)
    written = jsonl_rows(out)
    stages = {s["stage_name"]: s for s in report["stages"]}
    assert stages["jsonl_reader"]["rows_out"] == 300
    assert len(written) == stages["ScoreFilter_word_count"]["rows_out"] == stages["jsonl_writer"]["rows_in"]
    assert all(len(row["text"].split()) >= 60 for row in written)
    assert f"report.html: {run_dir / 'report.html'}" in result.stdout
    # the report command reads the same run back
    again = cli("report", str(run_dir))
    assert again.returncode == 0 and "ScoreFilter_word_count" in again.stdout and report["run_id"] in again.stdout


def test_stage_by_stage_example_on_ray(cli_on_shared_ray, corpus_dir, tmp_path):
    out, runs = tmp_path / "out", tmp_path / "runs"
    result = cli_on_shared_ray(
        "run",
        "examples/stage_by_stage.yaml",
        "--set",
        f"stages.0.params.file_paths={corpus_dir}",
        "--set",
        f"stages.5.params.path={out}",
        "--log-dir",
        str(runs),
        "--no-progress",
    )
    assert result.returncode == 0, str(result)
    report = json.loads((run_dir_of(runs) / "report.json").read_text())
    assert report["mode"] == "stage_by_stage" and report["status"] == "succeeded"
    stages = {s["stage_name"]: s for s in report["stages"]}
    assert stages["ExactDuplicateShuffle"]["rows_out"] < stages["ExactDuplicateShuffle"]["rows_in"]
    table = pq.read_table(sorted(out.glob("*.parquet")))
    assert table.num_rows == stages["parquet_writer"]["rows_in"]
    assert set(table.column_names) == {"text", "_curator_id"}
    texts = table.column("text").to_pylist()
    assert len(set(texts)) == len(texts)  # no exact duplicate left


def test_full_curation_example_locally(cli, corpus_dir, tmp_path):
    """The demo's pipeline with the in-process executor (the demo test runs it on Ray)."""
    out = tmp_path / "out"
    result = cli(
        "run",
        "examples/full_curation.yaml",
        "--set",
        "executor={type: local}",
        "--set",
        f"stages.0.params.file_paths={corpus_dir}",
        "--set",
        f"stages.11.params.path={out}",
    )
    assert result.returncode == 0, str(result)
    assert "(the local executor writes no run report files)" in result.stdout
    assert "every input accounted for: yes" in result.stdout
    rows = jsonl_rows(out)
    kinds = Counter(row["kind"] for row in rows)
    assert not [k for k in kinds if k.startswith("junk_")], kinds
    groups = Counter(row["group"] for row in rows)
    assert max(groups.values()) == 1  # one document per duplicate group


def test_failing_run_prints_one_paragraph(cli, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "bad.jsonl").write_text('{"text": "fine"}\n{not json\n', encoding="utf-8")
    args = [
        "run",
        "examples/minimal.yaml",
        "--set",
        "executor={type: local}",
        "--set",
        f"stages.0.params.file_paths={data}",
        "--set",
        f"stages.2.params.path={tmp_path / 'out'}",
    ]
    result = cli(*args)
    assert result.returncode == 1, str(result)
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, str(result)
    error = errors[0]
    assert "pipeline 'minimal' failed in stage 'jsonl_reader'" in error
    assert str(data / "bad.jsonl") in error and "malformed JSON" in error and "line 2" in error
    assert "Re-run with --debug" in error
    assert "Traceback" not in result.output
    debug = cli(*args, "--debug")
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr and "--- traceback in the stage ---" in debug.stderr


def test_demo_refuses_a_foreign_folder(cli, tmp_path, assert_no_ray):
    (tmp_path / "precious.txt").write_text("keep me")
    result = cli("demo", "--output", str(tmp_path), "--docs", "100")
    assert result.returncode == 2, str(result)
    assert "not empty and was not made by `raycurator demo`" in result.stderr
    assert (tmp_path / "precious.txt").read_text() == "keep me"
    assert_no_ray(result)


def test_demo_on_ray(cli, cli_on_shared_ray, tmp_path, html_report_check):
    folder = tmp_path / "demo"
    result = cli_on_shared_ray("demo", "--output", str(folder), "--docs", "400", "--no-progress")
    assert result.returncode == 0, str(result)
    out = result.stdout
    assert "Generated 400 documents" in out
    assert "What each stage did:" in out
    for stage in ("clean_unicode", "filter_length", "filter_markers", "ExactDuplicateShuffle", "FuzzyDuplicateBarrier"):
        assert stage in out
    assert "Junk kept: 0 of" in out and "Distinct documents lost: 0 of" in out
    assert "(0 with copies left)" in out
    assert (folder / "pipeline.yaml").exists() and (folder / ".raycurator-demo").exists()
    run_dir = run_dir_of(folder / "runs")
    report = json.loads((run_dir / "report.json").read_text())
    html_report_check((run_dir / "report.html").read_text(), report)
    assert f"Report:   {run_dir / 'report.html'}" in out
    assert len(jsonl_rows(folder / "curated")) == report["stages"][-1]["rows_in"]
    # the written pipeline file is valid and describes the same pipeline
    described = cli("describe", str(folder / "pipeline.yaml"))
    assert described.returncode == 0 and "Pipeline: demo_curation" in described.stdout
