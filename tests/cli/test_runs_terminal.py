"""The command on a real embedded Ray: the live progress table on a terminal (a pseudo-terminal),
`raycurator report --html` on that run's folder, and `executor: {type: ray_data}` from a file."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(300)

#: Cursor movement rich's live display uses to redraw the table in place.
_CURSOR_UP = re.compile(r"\x1b\[\d*A")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def run_on_terminal(args: list[str], timeout: float = 240) -> tuple[int, str]:
    """Run `raycurator ARGS` with stdin, stdout and stderr on a 200-column pseudo-terminal."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    env = dict(os.environ, TERM="xterm-256color", RAY_DEDUP_LOGS="0", PYTHONUNBUFFERED="1")
    env.pop("RAY_ADDRESS", None)
    for name in ("NO_COLOR", "COLUMNS", "LINES"):  # the terminal's own size counts, not an inherited one
        env.pop(name, None)
    process = subprocess.Popen(
        [sys.executable, "-m", "raycurator.cli.main", *args],
        cwd=REPO, env=env, stdin=slave, stdout=slave, stderr=slave, close_fds=True,
    )  # fmt: skip
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError as error:  # EIO: every writer closed the terminal
                if error.errno != errno.EIO:
                    raise
                break
            if not data:
                break
            chunks.append(data)
        code = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)
    return code, b"".join(chunks).decode("utf-8", "replace")


def minimal_config(tmp_path: Path, corpus_dir: Path, out: Path, executor: str) -> Path:
    config = yaml.safe_load((REPO / "examples" / "minimal.yaml").read_text())
    config["executor"] = {"type": executor}
    config["stages"][0]["JsonlReader"]["file_paths"] = str(corpus_dir)
    config["stages"][1]["ScoreFilter"]["filter_obj"]["WordCountFilter"]["min_words"] = 60
    config["stages"][2]["JsonlWriter"]["path"] = str(out)
    path = tmp_path / f"{executor}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def written_ids(folder: Path) -> list[str]:
    return sorted(json.loads(line)["id"] for f in folder.glob("*.jsonl") for line in f.read_text().splitlines())


@pytest.fixture(scope="module")
def terminal_run(tmp_path_factory, corpus_dir) -> dict:
    """The minimal pipeline run on the actor pool with its output on a pseudo-terminal."""
    tmp_path = tmp_path_factory.mktemp("terminal")
    out, runs = tmp_path / "out", tmp_path / "runs"
    config = minimal_config(tmp_path, corpus_dir, out, "ray_actor_pool")
    code, output = run_on_terminal(["run", str(config), "--log-dir", str(runs)])
    (run_dir,) = [p for p in runs.iterdir() if (p / "report.json").exists()]
    return {"code": code, "output": output, "out": out, "run_dir": run_dir}


def test_the_live_progress_table_is_drawn_on_a_terminal(terminal_run) -> None:
    output = terminal_run["output"]
    assert terminal_run["code"] == 0, output[-3000:]
    report = json.loads((terminal_run["run_dir"] / "report.json").read_text())
    plain = _ANSI.sub("", output)
    assert "tasks done/in" in plain and "rows/s" in plain, plain[-3000:]
    assert _CURSOR_UP.search(output), "the table was never redrawn in place"
    assert "[raycurator " not in plain, "plain progress lines were printed on a terminal"
    # the last drawing of the table shows every stage finished with the report's counts
    last_table = plain[plain.rindex("tasks done/in") :]
    for stage in report["stages"]:
        line = next((line for line in last_table.splitlines() if stage["stage_name"] in line), None)
        assert line is not None, (stage["stage_name"], last_table)
        assert "done" in line and f"{stage['tasks_in']}/{stage['tasks_in']}" in line.replace(" ", ""), line
        assert f"{stage['rows_in']:,}" in line, line


def test_report_html_rewrites_the_page_from_report_json(terminal_run, cli, html_report_check) -> None:
    run_dir = terminal_run["run_dir"]
    report = json.loads((run_dir / "report.json").read_text())
    (run_dir / "report.html").write_text("stale")
    result = cli("report", str(run_dir), "--html")
    assert result.returncode == 0, str(result)
    html_report_check((run_dir / "report.html").read_text(), report)
    for stage in report["stages"]:
        assert stage["stage_name"] in result.stdout
    # without --html an existing page is left as it is
    (run_dir / "report.html").write_text("kept")
    assert cli("report", str(run_dir)).returncode == 0
    assert (run_dir / "report.html").read_text() == "kept"


def local_ids(corpus_dir: Path, out: Path) -> list[str]:
    """The ids the same pipeline writes on the in-process LocalExecutor."""
    from raycurator import LocalExecutor, Pipeline
    from raycurator.stages.text.filters import ScoreFilter, WordCountFilter
    from raycurator.stages.text.io.reader import JsonlReader
    from raycurator.stages.text.io.writer import JsonlWriter

    stages = [JsonlReader(str(corpus_dir)), ScoreFilter(WordCountFilter(min_words=60)), JsonlWriter(str(out))]
    Pipeline("local", stages=stages).run(LocalExecutor())
    return written_ids(out)


def test_a_ray_data_executor_from_the_pipeline_file_writes_the_same_documents(cli, corpus_dir, tmp_path) -> None:
    out = tmp_path / "out"
    config = minimal_config(tmp_path, corpus_dir, out, "ray_data")
    result = cli("run", str(config), "--no-progress")
    assert result.returncode == 0, str(result)
    assert "on the ray_data executor" in result.stdout, str(result)
    assert "(the ray_data executor keeps no run report)" in result.stdout, str(result)
    expected = local_ids(corpus_dir, tmp_path / "local")
    assert 0 < len(expected) < 300 and written_ids(out) == expected
