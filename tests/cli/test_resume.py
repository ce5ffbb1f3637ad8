"""Resuming a killed `raycurator run` (SIGKILL and Ctrl-C) gives exactly the output of a clean run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.slow

PARTITIONS = 10

SLOW_STAGE = '''
import time
from raycurator import ProcessingStage


class SlowPass(ProcessingStage):
    """Passes documents through after a pause, so a run can be interrupted part-way."""

    _name = "slow_pass"

    def __init__(self, seconds: float = 0.5) -> None:
        self.seconds = seconds

    def process(self, task):
        time.sleep(self.seconds)
        return task
'''


def make_inputs(root: Path) -> tuple[Path, Path]:
    data = root / "in"
    data.mkdir()
    for f in range(PARTITIONS):
        lines = [json.dumps({"id": f"doc-{f}-{d}", "text": f"document {d} of file {f} " * 3}) for d in range(40)]
        (data / f"part-{f:02d}.jsonl").write_text("\n".join(lines) + "\n")
    (root / "slowstages.py").write_text(SLOW_STAGE)
    config = root / "pipeline.yaml"
    config.write_text(
        f"""
name: resumable
executor:
  type: ray_actor_pool
  config: {{num_cpus: 2}}
stages:
  - JsonlReader: {{file_paths: "{data}", files_per_partition: 1}}
  - slowstages.SlowPass: {{seconds: 0.8}}
  - JsonlWriter: {{path: "{root / 'out'}"}}
"""
    )
    return config, data


def start(root: Path, config: Path, checkpoint: Path, log_dir: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", RAY_DEDUP_LOGS="0")
    env.pop("RAY_ADDRESS", None)
    command = [sys.executable, "-m", "raycurator.cli.main", "run", str(config), "--checkpoint-dir", str(checkpoint),
               "--log-dir", str(log_dir), "--no-progress"]
    return subprocess.Popen(command, cwd=root, env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for_done(checkpoint: Path, at_least: int, process: subprocess.Popen, timeout: float = 180) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = len(list((checkpoint / "done").glob("*.done"))) if (checkpoint / "done").exists() else 0
        if done >= at_least:
            return done
        assert process.poll() is None, f"run ended before it could be interrupted:\n{process.stdout.read()}"
        time.sleep(0.05)
    raise AssertionError("no partition finished in time")


def session_processes(session_id: int) -> list[psutil.Process]:
    alive = []
    for process in psutil.process_iter(["status"]):
        try:
            if os.getsid(process.pid) == session_id and process.info["status"] != psutil.STATUS_ZOMBIE:
                alive.append(process)
        except (ProcessLookupError, psutil.NoSuchProcess, PermissionError):
            continue
    return alive


def wait_until_gone(session_id: int, timeout: float = 30) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while (left := session_processes(session_id)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def rows(out: Path) -> list[str]:
    return [json.loads(line)["id"] for p in sorted(out.glob("*.jsonl")) for line in p.read_text().splitlines()]


def last_report(log_dir: Path) -> dict:
    reports = sorted(log_dir.glob("*/report.json"), key=lambda p: p.stat().st_mtime)
    return json.loads(reports[-1].read_text())


def expected_rows(data: Path) -> list[str]:
    return sorted(json.loads(line)["id"] for p in data.glob("*.jsonl") for line in p.read_text().splitlines())


def rerun_to_completion(root: Path, config: Path, checkpoint: Path, log_dir: Path) -> dict:
    process = start(root, config, checkpoint, log_dir)
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output
    return last_report(log_dir)["extra"]["checkpoint"]


def test_sigkill_part_way_then_rerun_gives_the_clean_output(tmp_path) -> None:
    config, data = make_inputs(tmp_path)
    checkpoint, log_dir = tmp_path / "ckpt", tmp_path / "logs"
    process = start(tmp_path, config, checkpoint, log_dir)
    try:
        wait_for_done(checkpoint, at_least=2, process=process)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the whole run, Ray included, dies at once
        process.wait()
    assert not wait_until_gone(process.pid)
    done_before = len(list((checkpoint / "done").glob("*.done")))
    assert 2 <= done_before < PARTITIONS, "the kill came too late to test a resume"

    figures = rerun_to_completion(tmp_path, config, checkpoint, log_dir)
    assert figures["partitions_skipped"] == done_before
    assert figures["partitions_finished"] == PARTITIONS - done_before, "the rerun must process only unfinished ones"
    written = rows(tmp_path / "out")
    assert sorted(written) == expected_rows(data), "output differs from a clean run"
    assert len(written) == len(set(written)), "duplicate rows"
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.endswith(".tmp")]


def test_ctrl_c_stops_cleanly_shuts_ray_down_and_resumes(tmp_path) -> None:
    config, data = make_inputs(tmp_path)
    checkpoint, log_dir = tmp_path / "ckpt", tmp_path / "logs"
    process = start(tmp_path, config, checkpoint, log_dir)
    try:
        wait_for_done(checkpoint, at_least=2, process=process)
        os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C sends
        output, _ = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    left = wait_until_gone(process.pid)
    if left:
        os.killpg(process.pid, signal.SIGKILL)
    assert not left, f"Ray processes left running after Ctrl-C: {[p.pid for p in left]}"
    assert process.returncode == 130, output
    assert "Traceback" not in output, output
    report = last_report(log_dir)
    assert report["status"] == "interrupted"
    done_before = len(list((checkpoint / "done").glob("*.done")))
    assert done_before < PARTITIONS

    figures = rerun_to_completion(tmp_path, config, checkpoint, log_dir)
    assert figures["partitions_skipped"] == done_before
    assert figures["partitions_finished"] == PARTITIONS - done_before
    written = rows(tmp_path / "out")
    assert sorted(written) == expected_rows(data) and len(written) == len(set(written))
