"""`stages`, `describe`, `report`, `--version` and `--help`, without starting Ray."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from raycurator.backends.report_html import render_report_html, write_report_html

pytestmark = pytest.mark.timeout(120)

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))


def test_help_and_version(cli):
    result = cli("--help")
    assert result.returncode == 0, str(result)
    for command in ("run", "describe", "stages", "demo", "report"):
        assert command in result.stdout
    result = cli("--version")
    assert result.returncode == 0 and result.stdout.startswith("raycurator ")
    result = cli("run", "--help")
    assert result.returncode == 0
    for option in ("--set", "--address", "--checkpoint-dir", "--debug"):
        assert option in result.stdout


def test_stages_lists_stages_and_helpers(cli):
    result = cli("stages")
    assert result.returncode == 0, str(result)
    for name in ("JsonlReader", "ScoreFilter", "JsonlWriter", "ExactDuplicateFilter", "WordCountFilter"):
        assert name in result.stdout
    assert "filter_obj" in result.stdout and "min_words: int = 50" in result.stdout
    result = cli("stages", "--json")
    data = json.loads(result.stdout)
    assert "ScoreFilter" in data["stages"] and "WordCountFilter" in data["helpers"]
    params = {p["name"]: p for p in data["helpers"]["WordCountFilter"]["params"]}
    assert params["min_words"]["type"] == "int" and params["min_words"]["default"] == "50"
    assert set(data["executors"]) >= {"ray_actor_pool", "local"}
    assert data["import_problems"] == {}


def test_stages_detail_and_unknown_name(cli):
    result = cli("stages", "ScoreFilter")
    assert result.returncode == 0, str(result)
    assert "ScoreFilter (stage" in result.stdout and "filter_obj" in result.stdout and "(required)" in result.stdout
    result = cli("stages", "ScoreFiltr")
    assert result.returncode == 2 and "Did you mean 'ScoreFilter'" in result.stderr


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_describe_examples(cli, example):
    result = cli("describe", str(example.relative_to(REPO)), "--json")
    assert result.returncode == 0, str(result)
    data = json.loads(result.stdout)
    assert data["executor"]["type"] in ("ray_actor_pool", "local")
    # composites are expanded: the reader is file partitioning + the reader stage
    assert data["built_stages"][0] == "file_partitioning"
    assert data["built_stages"][1].startswith(("jsonl_reader", "iterate_"))  # iterate_extract_...: WarcReader
    for entry in data["stages"]:
        parts = entry.get("parts", [entry])
        for part in parts:
            assert {"name", "class", "resources", "batch_size", "inputs", "outputs"} <= set(part)


def test_describe_text_expands_composites(cli):
    result = cli("describe", "examples/full_curation.yaml")
    assert result.returncode == 0, str(result)
    lines = result.stdout.splitlines()
    assert lines[0] == "Pipeline: full_curation"
    assert any(line.startswith("Executor: ray_actor_pool") for line in lines)
    text = result.stdout
    assert "ExactDuplicateFilter (composite)" in text and "FuzzyDuplicateFilter (composite)" in text
    positions = [text.index(n) for n in ("ExactDuplicateHashStage", "ExactDuplicateShuffle", "MinHashStage")]
    assert positions == sorted(positions)
    assert "barrier" in text and "filter_markers (ScoreFilter)" in text


def test_demo_pipeline_matches_the_example():
    """`examples/full_curation.yaml` is the demo's pipeline, but for the input and output paths."""
    from raycurator.cli.demo import demo_pipeline_config

    example = yaml.safe_load((REPO / "examples" / "full_curation.yaml").read_text())
    demo = demo_pipeline_config("CORPUS", "OUTPUT")
    example["stages"][0]["JsonlReader"]["file_paths"] = "CORPUS"
    example["stages"][-1]["JsonlWriter"]["path"] = "OUTPUT"
    assert example["stages"] == demo["stages"]
    assert example["executor"] == demo["executor"]


def fake_report(status: str = "succeeded") -> dict:
    start = time.time() - 10
    stages = []
    figures = [
        ("file_partitioning", 1, 2, 0, 2),
        ("jsonl_reader", 2, 2, 2, 1234),
        ("ScoreFilter_<x>", 2, 2, 1234, 1001),
        ("jsonl_writer", 2, 2, 1001, 2),
    ]
    for i, (name, tin, tout, rin, rout) in enumerate(figures):
        stages.append(
            {
                "stage_name": name,
                "tasks_in": tin,
                "tasks_out": tout,
                "tasks_attributed": tout,
                "tasks_filtered": 0,
                "tasks_failed": 0,
                "rows_in": rin,
                "rows_out": rout,
                "batches": tin,
                "retries": 0,
                "actors_started": 1,
                "actors_restarted": 0,
                "busy_s": 0.5 + i,
                "idle_s": 0.25,
                "max_queued": 1,
                "first_start": start + i,
                "last_end": start + i + 1.5,
                "balanced": True,
                "active_s": 1.5,
                "rows_per_s": rin / 1.5,
            }
        )
    return {
        "run_id": "20250101-000000-abcdef",
        "executor": "RayActorPoolExecutor",
        "mode": "streaming",
        "status": status,
        "error": None if status == "succeeded" else "StageExecutionError: stage 'x' failed <boom> & more",
        "started_at": start,
        "finished_at": start + 6,
        "wall_s": 6.0,
        "log_dir": "/tmp/somewhere",
        "failure_ledger": None,
        "balanced": True,
        "stages": stages,
        "extra": {},
    }


def test_render_report_html_is_self_contained_and_complete(html_report_check):
    report = fake_report("failed")
    raw = render_report_html(report)
    html_report_check(raw, report)
    assert "&lt;boom&gt; &amp; more" in raw and "ScoreFilter_&lt;x&gt;" in raw  # escaped
    assert "<boom>" not in raw


def test_report_command_prints_summary_and_writes_html(cli, tmp_path):
    run_dir = tmp_path / "runs" / "20250101-000000-abcdef"
    run_dir.mkdir(parents=True)
    report = fake_report()
    (run_dir / "report.json").write_text(json.dumps(report))
    result = cli("report", str(run_dir))
    assert result.returncode == 0, str(result)
    for stage in report["stages"]:
        assert stage["stage_name"] in result.stdout
    assert "1,234" in result.stdout and "233 (18.9%)" in result.stdout  # rows and removed of the filter
    assert "rows read: 1,234; removed: 233; at the end: 1,001" in result.stdout
    assert (run_dir / "report.html").exists()
    # a log folder: the newest run is shown
    result = cli("report", str(tmp_path / "runs"))
    assert result.returncode == 0 and "20250101-000000-abcdef" in result.stdout
    result = cli("report", str(run_dir), "--json")
    assert json.loads(result.stdout)["run_id"] == report["run_id"]
    result = cli("report", str(tmp_path / "nothing-here"))
    assert result.returncode == 1 and "cannot read the run report" in result.stderr


def test_write_report_html_reads_report_json(tmp_path, html_report_check):
    report = fake_report()
    (tmp_path / "report.json").write_text(json.dumps(report))
    path = write_report_html(tmp_path)
    assert path == tmp_path / "report.html"
    html_report_check(path.read_text(), report)
    empty = dict(report, stages=[], status="failed")
    html_report_check(render_report_html(empty), empty)


def test_python_m_raycurator_demo_is_the_demo_command():
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "raycurator.demo", "--help"], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "--output" in proc.stdout and "--docs" in proc.stdout


def test_timeline_handles_stage_windows_on_another_clock():
    """Stage windows on a monotonic clock (not epoch seconds) are drawn from the earliest start."""
    import re

    report = fake_report()
    for i, stage in enumerate(report["stages"]):
        stage["first_start"], stage["last_end"] = 2000.0 + i, 2001.5 + i
    svg = re.findall(r"<svg.*?</svg>", render_report_html(report), re.S)[2]
    xs = [float(x) for x in re.findall(r'<rect x="([-\d.]+)"', svg)]
    assert len(xs) == len(report["stages"]) and min(xs) >= 230 and xs == sorted(xs)


def test_report_command_shows_nodes_lost_and_recomputed_partitions(cli, tmp_path):
    report = fake_report()
    report["extra"] = {"nodes": {"lost": ["n2"], "added": [], "partitions_recomputed": 3, "results_discarded": 1}}
    report["stages"][0]["tasks_discarded"] = 2
    (tmp_path / "report.json").write_text(json.dumps(report))
    result = cli("report", str(tmp_path))
    assert result.returncode == 0, str(result)
    assert "nodes lost: 1; joined: 0; partitions recomputed: 3" in result.stdout
    assert "discarded" in (tmp_path / "report.html").read_text()
    report["extra"]["nodes"]["refused"] = ["n4"]
    (tmp_path / "report.json").write_text(json.dumps(report))
    result = cli("report", str(tmp_path))
    assert "joined: 0; joined but not used (setup_on_node failed): 1; partitions" in result.stdout, str(result)
    plain = fake_report()
    (tmp_path / "report.json").write_text(json.dumps(plain))
    assert "nodes lost" not in cli("report", str(tmp_path)).stdout
