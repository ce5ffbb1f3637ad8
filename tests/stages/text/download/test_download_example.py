"""`examples/common_crawl.yaml` runs on the WARC files its script writes, and the CLI lists the new classes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from raycurator.stages.text.download.testing import BOILERPLATE_MARKERS, LOREM

REPO = Path(__file__).resolve().parents[4]


def _cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "raycurator.cli.main", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_example_script_and_pipeline(tmp_path):
    data, out = tmp_path / "warcs", tmp_path / "out"
    script = subprocess.run(
        [sys.executable, str(REPO / "examples" / "make_common_crawl_warcs.py"), "--output", str(data)],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )  # fmt: skip
    assert script.returncode == 0, script.stderr
    assert len(list(data.glob("*.warc.gz"))) == 2
    result = _cli(
        "run", "examples/common_crawl.yaml", "--no-progress", "--set", "executor={type: local}",
        "--set", f"stages.0.WarcReader.file_paths={data}", "--set", f"stages.5.JsonlWriter.path={out}",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [json.loads(line) for path in out.glob("*.jsonl") for line in path.read_text().splitlines()]
    texts = [row["text"] for row in rows]
    assert len(rows) == 32  # 2 files x 16 distinct articles; mirrors, near copies and junk removed
    assert len(set(texts)) == len(texts) and len({row["url"] for row in rows}) == 32
    assert all(row["language"] == "ENGLISH" for row in rows)
    # one page per article: the original or one of its copies (dedup keeps the smallest warc_id)
    assert sorted(int(row["url"].rsplit("/", 1)[1]) for row in rows) == list(range(32))
    assert not any(marker in text for marker in BOILERPLATE_MARKERS for text in texts)
    assert not any(LOREM[:30] in text for text in texts)


def test_stages_command_lists_download_stages_and_algorithms():
    result = _cli("stages", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    for name in (
        "CommonCrawlDownloadExtractStage", "WikipediaDownloadExtractStage", "ArxivDownloadExtractStage",
        "DocumentDownloadExtractStage", "WarcReader",
    ):  # fmt: skip
        assert name in data["stages"], name
    for name in ("JusTextExtractor", "ResiliparseExtractor", "TrafilaturaExtractor"):
        assert name in data["helpers"], name
    params = {p["name"]: p for p in data["helpers"]["JusTextExtractor"]["params"]}
    assert params["length_low"]["default"] == "70" and params["stopwords_high"]["default"] == "0.32"
    params = {p["name"] for p in data["stages"]["CommonCrawlDownloadExtractStage"]["params"]}
    assert {"start_snapshot", "end_snapshot", "download_dir", "crawl_type", "html_extraction", "url_limit"} <= params
    assert data["import_problems"] == {}
