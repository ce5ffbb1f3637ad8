"""Fast start: the start-up breakdown, the lazy class lookup, and `raycurator up` / `down`."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest

from raycurator.cli.runner import _print_startup, console
from raycurator.utils.startup import RunPhase, StartupTimeline, format_breakdown, overhead_share

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(400)


def _timeline(**seconds: float) -> StartupTimeline:
    timeline = StartupTimeline()
    for name, at in seconds.items():
        timeline.mark(RunPhase(name), 1000.0 + at)
    return timeline


def test_timeline_spans_and_overhead():
    timeline = _timeline(
        process_start=0, run_start=1, ray_connected=6, nodes_ready=6.5, first_row=8, last_row=9, actors_stopped=9.5,
        ray_released=10, run_end=10,
    )
    timeline.mark(RunPhase.RUN_START, 1500.0)  # a phase keeps its first time
    data = timeline.to_dict()
    assert data["marks_s"]["run_start"] == 1.0 and data["origin"] == 1000.0
    spans = data["spans_s"]
    assert spans["imports and pipeline checks"] == 1.0
    assert spans["Ray start / connect"] == 5.0
    assert spans["actor start and first batch"] == 1.5
    assert spans["processing (first row to last)"] == 1.0
    assert overhead_share(data) == (9.0, 10.0)
    lines = format_breakdown(data)
    assert lines[0].startswith("start-up breakdown (10.00 s") and len(lines) == 1 + len(spans)
    # a run measured from `execute` (no process start): the first span is simply absent
    assert "imports and pipeline checks" not in _timeline(run_start=0, ray_connected=2).to_dict()["spans_s"]


def _report(timeline: StartupTimeline, started_here: bool) -> dict:
    timeline.ray_started_here = started_here
    return {"extra": {"startup": timeline.to_dict()}}


def test_hint_only_when_starting_ray_took_most_of_the_run(capsys):
    slow_start = _timeline(process_start=0, run_start=1, ray_connected=9, nodes_ready=9, first_row=10, last_row=11)
    _print_startup(_report(slow_start, True), console(), debug=False)
    out = capsys.readouterr().out
    assert "raycurator up" in out and "--address auto" in out and "8.0 s starting Ray" in out
    # joined a running cluster: nothing to suggest; --debug prints the breakdown
    _print_startup(_report(slow_start, False), console(), debug=True)
    out = capsys.readouterr().out
    assert "raycurator up" not in out and "Ray start / connect" in out
    # a long run whose start was a small part of it
    long_run = _timeline(process_start=0, run_start=1, ray_connected=9, nodes_ready=9, first_row=10, last_row=100)
    _print_startup(_report(long_run, True), console(), debug=False)
    assert capsys.readouterr().out == ""


def _in_fresh_python(code: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_building_a_pipeline_imports_only_the_stages_it_names():
    code = """
import json, sys
from pathlib import Path
from raycurator.cli import classes
from raycurator.cli.build import build
from raycurator.cli.config import load_config
built = build(load_config(Path("examples/full_curation.yaml"), None))
lazy = [(type(s).__module__, type(s).__name__, s.name) for s in built.stages]
heavy = sorted(m for m in ("raycurator.stages.text.download.common_crawl", "trafilatura", "warcio", "torch")
               if m in sys.modules)
discovered = classes._discovered
classes.discover()
again = build(load_config(Path("examples/full_curation.yaml"), None))
full = [(type(s).__module__, type(s).__name__, s.name) for s in again.stages]
print(json.dumps({"lazy": lazy, "full": full, "heavy": heavy, "discovered": discovered}))
"""
    result = _in_fresh_python(code)
    assert result["heavy"] == [] and result["discovered"] is False
    assert result["lazy"] == result["full"] and len(result["lazy"]) > 10


def test_unknown_and_dynamic_names_still_look_everywhere():
    code = """
import json
from raycurator.cli import classes
found = classes.find_stage_class("JsonlReader").__name__
try:
    classes.find_stage_class("NoSuchStage")
except LookupError as error:
    message = str(error)
print(json.dumps({"found": found, "message": message, "discovered": classes._discovered,
                  "index": classes.defining_modules("WordCountFilter"),
                  "module": classes.find_helper_class("WordCountFilter").__module__}))
"""
    result = _in_fresh_python(code)
    assert result["found"] == "JsonlReader"
    assert "unknown stage 'NoSuchStage'" in result["message"] and "MinHashStage" in result["message"]
    assert result["discovered"] is True  # the error lists every stage, as before
    assert result["index"] == [result["module"]]  # the source index finds where a class is defined


def _gcs_answers(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


JOIN_AUTO = """
import json, ray
from raycurator.backends.ray_cluster import RayConnection
with RayConnection() as connection:
    context = ray.get_runtime_context()
    print(json.dumps([context.gcs_address, connection.started_here, ray.util.get_node_ip_address()]))
"""


@pytest.mark.slow
def test_up_run_on_it_and_down(cli, tmp_path):
    """`up` starts a loopback cluster once; `run --address auto` joins it (no Ray start) and gets the same
    output as always; `down` stops exactly that cluster."""
    ray_tmp = Path(tempfile.mkdtemp(prefix="rc", dir="/tmp"))  # short: Ray's socket paths live under it
    env = {"RAYCURATOR_CLUSTER_FILE": str(tmp_path / "state" / "cluster.json"), "RAY_TMPDIR": str(ray_tmp)}
    started = cli("up", "--num-cpus", "2", env=env)
    try:
        assert started.returncode == 0, str(started)
        state = json.loads((tmp_path / "state" / "cluster.json").read_text())
        address, owner = state["address"], state["pid"]
        assert address.startswith("127.0.0.1:") and f"started at {address}" in started.stdout
        assert _gcs_answers(address)
        again = cli("up", env=env)
        assert again.returncode == 0 and "already running" in again.stdout, str(again)

        out, runs = tmp_path / "out", tmp_path / "runs"
        args = ("run", "examples/minimal.yaml", "--set", f"stages.2.params.path={out}", "--log-dir", str(runs))
        result = cli(*args, "--address", "auto", "--no-progress", "--debug", env=env)
        assert result.returncode == 0, str(result)
        assert "Started a local Ray" not in result.output and "Connected to Ray cluster" in result.output
        assert "start-up breakdown" in result.stdout and "Ray start / connect" in result.stdout
        (run_dir,) = [p for p in runs.iterdir() if (p / "report.json").exists()]
        report = json.loads((run_dir / "report.json").read_text())
        startup = report["extra"]["startup"]
        assert startup["ray_started_here"] is False
        marks = startup["marks_s"]
        in_run_order = [marks[phase.value] for phase in RunPhase if phase.value in marks]
        assert in_run_order == sorted(in_run_order) and len(in_run_order) == len(RunPhase)
        assert marks["process_start"] == 0.0 and marks["ray_connected"] <= marks["first_row"] <= marks["last_row"]
        rows = [json.loads(line) for f in sorted(out.glob("*.jsonl")) for line in f.read_text().splitlines()]
        assert len(rows) == report["stages"][-1]["rows_in"] == 144
        assert _gcs_answers(address)  # the run left the cluster running

        # the library's own `auto` (RAY_ADDRESS=auto, no CLI): Ray's record of the last `ray start`
        # names this loopback cluster, and the driver joins it on loopback too
        joined = subprocess.run(
            [sys.executable, "-c", JOIN_AUTO],
            cwd=REPO,
            env={**os.environ, **env, "RAY_ADDRESS": "auto", "PYTHONPATH": str(REPO / "src")},
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert joined.returncode == 0, joined.stderr
        assert json.loads(joined.stdout.strip().splitlines()[-1]) == [address, False, "127.0.0.1"]
    finally:
        stopped = cli("down", env=env)
        shutil.rmtree(ray_tmp, ignore_errors=True)
    assert stopped.returncode == 0 and f"stopped the local Ray cluster at {address}" in stopped.stdout, str(stopped)
    assert not psutil.pid_exists(owner) or psutil.Process(owner).status() == psutil.STATUS_ZOMBIE
    assert not _gcs_answers(address)
    assert not (tmp_path / "state" / "cluster.json").exists()
    nothing = cli("down", env=env)
    assert nothing.returncode == 0 and "nothing to stop" in nothing.stdout
