"""Helpers for driving the `raycurator` command as a user would: in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@dataclass
class CliResult:
    """Exit code, outputs and duration of one `raycurator` invocation."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def __str__(self) -> str:
        command = f"raycurator {' '.join(self.args)} -> {self.returncode}"
        return f"{command}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def run_cli(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None, timeout: float = 240) -> CliResult:
    """Run `python -m raycurator.cli.main ARGS` in `cwd`; never raises on a non-zero exit."""
    full_env = dict(os.environ)
    full_env.update({"RAY_DEDUP_LOGS": "0", "COLUMNS": "200", "PYTHONUNBUFFERED": "1"})
    full_env.pop("RAY_ADDRESS", None)
    full_env.update(env or {})
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "raycurator.cli.main", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return CliResult(list(args), proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start)


@pytest.fixture
def cli():
    """`cli(*args, cwd=..., env=...)` runs the command and returns a `CliResult`."""
    return run_cli


@pytest.fixture
def cli_on_shared_ray(ray_session):
    """Like `cli`, but runs join the test session's shared Ray (RAY_ADDRESS) instead of starting an
    embedded Ray each: for tests about what a run produces, not about starting or stopping Ray."""
    import ray

    ray_session.ensure()
    address = ray.get_runtime_context().gcs_address

    def run(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None, timeout: float = 240) -> CliResult:
        return run_cli(*args, cwd=cwd, env={"RAY_ADDRESS": address, **(env or {})}, timeout=timeout)

    return run


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory) -> Path:
    """A small generated corpus (300 documents in 2 JSONL files)."""
    from raycurator.cli.corpus import generate_corpus

    folder = tmp_path_factory.mktemp("corpus")
    generate_corpus(folder, num_docs=300, seed=99, num_files=2)
    return folder


def assert_ray_not_started(result: CliResult) -> None:
    """Config errors must be found before Ray starts."""
    assert "Started a local Ray" not in result.output, str(result)
    assert "starting an embedded local Ray" not in result.output, str(result)


@pytest.fixture
def assert_no_ray():
    """`assert_no_ray(result)`: the command failed before starting Ray."""
    return assert_ray_not_started


class _HtmlCollector(HTMLParser):
    """Every start tag, all text, and each table row as a list of (cell's data-key, cell's text)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.rows: list[list[tuple[str | None, str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "tr":
            self.rows.append([])
        elif tag == "td" and self.rows:
            self._cell = []
            self.rows[-1].append((attrs.get("data-key"), ""))

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            key, _ = self.rows[-1][-1]
            self.rows[-1][-1] = (key, "".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


#: The per-stage counts the HTML report's stage table must show, compared cell by cell.
STAGE_COUNT_KEYS = ("tasks_in", "tasks_out", "tasks_failed", "rows_in", "rows_out", "rows_failed", "batches")


def check_report_html(raw: str, report: dict) -> None:
    """`raw` parses, loads nothing from outside, and shows the run's and every stage's figures."""
    page = _HtmlCollector()
    page.feed(raw)
    page.close()
    for tag, attrs in page.tags:
        for key in ("src", "href", "srcset", "data", "action"):
            value = (attrs.get(key) or "").strip().lower()
            assert not value.startswith(("http:", "https:", "//")), (tag, attrs)
        assert tag not in ("link", "iframe", "object", "embed", "img"), tag
        assert not (tag == "script" and attrs.get("src")), attrs
    assert "@import" not in raw and "url(" not in raw
    assert "http://" not in raw and "https://" not in raw
    text = " ".join(page.text).replace(",", "")
    assert report["run_id"] in text and report["status"] in text
    stage_rows = [row for row in page.rows if any(key == "rows_in" for key, _ in row)]
    assert len(stage_rows) == len(report["stages"]), stage_rows
    for index, (stage, row) in enumerate(zip(report["stages"], stage_rows, strict=True), start=1):
        assert [text for _, text in row[:2]] == [str(index), stage["stage_name"]], row
        shown = {key: text for key, text in row if key}
        for key in STAGE_COUNT_KEYS:
            if key in stage:
                assert shown[key].replace(",", "") == str(stage[key]), (stage["stage_name"], key, shown[key])
    assert sum(1 for tag, _ in page.tags if tag == "svg") == (3 if report["stages"] else 0)


@pytest.fixture
def html_report_check():
    """`html_report_check(raw_html, report_dict)` asserts the page is complete and self-contained."""
    return check_report_html
