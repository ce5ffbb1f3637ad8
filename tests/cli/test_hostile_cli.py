"""The command under hostile conditions: damaged reports, escape sequences in errors, SIGTERM, bad addresses."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from raycurator.cli.report import printable

pytestmark = pytest.mark.timeout(300)

USER_STAGES = '''
import time

from raycurator import ProcessingStage


class Hostile(ProcessingStage):
    """Raises an error whose text holds terminal escape sequences."""

    def process(self, task):
        raise ValueError("boom \\x1b]0;pwned-title\\x07\\x1b[2J\\x1b[31mred\\rover")


class Slow(ProcessingStage):
    """Passes tasks on after a pause (so a run can be stopped part-way)."""

    def process(self, task):
        time.sleep(0.5)
        return task
'''


def user_env(root: Path) -> dict[str, str]:
    (root / "userstages.py").write_text(USER_STAGES)
    return {"PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


def corpus(root: Path, files: int = 1, docs: int = 4) -> Path:
    folder = root / "in"
    folder.mkdir()
    for f in range(files):
        rows = [json.dumps({"text": f"document {d} of file {f}"}) for d in range(docs)]
        (folder / f"part-{f:02d}.jsonl").write_text("\n".join(rows) + "\n")
    return folder


def write(root: Path, text: str, name: str = "pipeline.yaml") -> Path:
    path = root / name
    path.write_text(textwrap.dedent(text))
    return path


def test_printable_escapes_control_characters():
    assert printable("a\x1b]0;x\x07b\x1b[2Jc\rd\x9be\x7f") == "a\\x1b]0;x\\x07b\\x1b[2Jc\\x0dd\\x9be\\x7f"
    assert printable("tabs\tand\nnewlines, ünïcödé 日本") == "tabs\tand\nnewlines, ünïcödé 日本"


def test_escape_sequences_in_user_errors_are_neutralised(cli, tmp_path):
    data = corpus(tmp_path)
    config = write(
        tmp_path,
        f"""
        executor: {{type: local}}
        stages:
          - JsonlReader: {{file_paths: "{data}"}}
          - userstages.Hostile: {{}}
        """,
    )
    for extra in ((), ("--debug",)):
        result = cli("run", str(config), *extra, cwd=tmp_path, env=user_env(tmp_path))
        assert result.returncode == 1, str(result)
        assert "\x1b" not in result.output and "\x07" not in result.output and "\r" not in result.output
        assert "boom \\x1b]0;pwned-title\\x07\\x1b[2J\\x1b[31mred\\x0dover" in result.stderr


def test_a_damaged_report_is_a_clear_error(cli, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    damaged = ('{"stages": [{"stage_na', "[1, 2]", '{"stages": "nope"}', '{"stages": [{"rows_in": "x"}]}')
    for content in damaged:
        (run / "report.json").write_text(content)
        result = cli("report", str(run))
        assert result.returncode == 1, str(result)
        assert "cannot read the run report" in result.stderr and "damaged" in result.stderr, str(result)
        assert "Traceback" not in result.output


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_address_where_nothing_listens_gives_up(cli, tmp_path):
    data = corpus(tmp_path)
    config = write(tmp_path, f'stages:\n  - JsonlReader: {{file_paths: "{data}"}}\n')
    port = free_port()
    result = cli(
        "run", str(config), "--address", f"127.0.0.1:{port}", "--set", "executor.config.connect_timeout_s=1.5"
    )
    assert result.returncode == 1, str(result)
    assert f"no Ray cluster answers at 127.0.0.1:{port}" in result.stderr
    assert result.seconds < 60


def test_authentication_disabled_off_loopback_needs_insecure(cli, tmp_path):
    data = corpus(tmp_path)
    config = write(tmp_path, f'stages:\n  - JsonlReader: {{file_paths: "{data}"}}\n')
    env = {"RAY_AUTH_MODE": "disabled"}
    # a name that never resolves: no connection can succeed (this sandbox's network accepts any TCP connection)
    args = ("run", str(config), "--address", "ray-head.invalid:6379", "--set", "executor.config.connect_timeout_s=1")
    result = cli(*args, env=env)
    assert result.returncode == 1, str(result)
    assert "authentication disabled" in result.stderr and "--insecure" in result.stderr
    result = cli(*args, "--insecure", env=env)
    assert result.returncode == 1, str(result)
    assert "INSECURE" in result.stderr and "no Ray cluster answers at ray-head.invalid:6379" in result.stderr


def session_processes(session_id: int) -> list[psutil.Process]:
    alive = []
    for process in psutil.process_iter(["status"]):
        try:
            if os.getsid(process.pid) == session_id and process.info["status"] != psutil.STATUS_ZOMBIE:
                alive.append(process)
        except (ProcessLookupError, psutil.NoSuchProcess, PermissionError):
            continue
    return alive


@pytest.mark.slow
def test_sigterm_mid_run_is_a_clean_interruption(tmp_path):
    data = corpus(tmp_path, files=8, docs=3)
    log_dir = tmp_path / "runs"
    config = write(
        tmp_path,
        f"""
        executor: {{type: ray_actor_pool, config: {{num_cpus: 2}}}}
        stages:
          - JsonlReader: {{file_paths: "{data}", files_per_partition: 1}}
          - userstages.Slow: {{}}
        """,
    )
    env = dict(os.environ, **user_env(tmp_path), RAY_DEDUP_LOGS="0")
    env.pop("RAY_ADDRESS", None)
    command = [sys.executable, "-m", "raycurator.cli.main", "run", str(config), "--log-dir", str(log_dir)]
    process = subprocess.Popen(
        [*command, "--no-progress"],
        cwd=tmp_path,
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 180
        while not list(log_dir.glob("*/failures.jsonl")) and time.monotonic() < deadline:
            # the run has started once Ray is up and the first partitions are being read
            if any("Slow" in " ".join(p.cmdline()) for p in session_processes(process.pid) if p.pid != process.pid):
                break
            assert process.poll() is None, process.stdout.read()
            time.sleep(0.2)
        time.sleep(1.0)
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 143, output
    assert "terminated (SIGTERM)" in output
    assert "Stack trace" not in output and "*** SIG" not in output, output
    (report,) = log_dir.glob("*/report.json")
    assert json.loads(report.read_text())["status"] == "interrupted"
    deadline = time.monotonic() + 30
    while (left := session_processes(process.pid)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert left == [], f"processes left behind: {[p.cmdline() for p in left]}"
