"""The scripts under examples/nemo_style/ run unmodified, each in its own process, on small data.

They connect to the test session's Ray (RAY_ADDRESS) instead of starting one each.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "nemo_style"

pytestmark = [pytest.mark.usefixtures("shared_ray"), pytest.mark.slow]  # a process and Ray actors per script


def run_script(name: str, *args: str) -> str:
    import ray

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    env["RAY_ADDRESS"] = ray.get_runtime_context().gcs_address
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"{name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    return done.stdout


def jsonl_rows(folder: Path) -> list[dict]:
    return [json.loads(line) for path in sorted(folder.glob("*.jsonl")) for line in path.read_text().splitlines()]


def test_heuristic_filtering_script(tmp_path):
    out = tmp_path / "out"
    stdout = run_script("heuristic_filtering.py", "--input", "examples/data/sample.jsonl", "--output", str(out))
    kept = jsonl_rows(out)
    source = [json.loads(line) for line in (ROOT / "examples/data/sample.jsonl").read_text().splitlines()]
    assert 0 < len(kept) < len(source)  # the sample holds junk that the filters remove
    assert all(len(row["text"].split()) >= 50 and "  " not in row["text"] for row in kept)
    assert {r["id"] for r in kept} <= {r["id"] for r in source}
    assert f"documents kept: {len(kept)}" in stdout


def test_custom_stages_script(tmp_path):
    out = tmp_path / "out"
    stdout = run_script("custom_stages.py", "--output", str(out), "--docs", "12", "--executor", "ray_actor_pool")
    frame = pd.concat([pd.read_parquet(p) for p in sorted(out.glob("*.parquet"))], ignore_index=True)
    assert sorted(frame["doc"]) == [i for i in range(12) if i % 4 != 1]  # "bread" documents dropped
    assert set(frame["topic"]) == {"rivers", "music", "stars"}
    assert (frame["words"] == frame["text"].str.split().str.len()).all()
    assert "documents tagged: 12" in stdout  # one perf record per call, counted once


def test_exact_dedup_script(tmp_path):
    data = tmp_path / "in"
    data.mkdir()
    files = [["one fish", "two fish", "one fish"], ["red fish", "two fish"], ["blue fish", "one fish"]]
    for f, texts in enumerate(files):
        (data / f"part-{f}.jsonl").write_text("".join(json.dumps({"text": t, "src": f}) + "\n" for t in texts))
    out = tmp_path / "out"
    stdout = run_script("exact_dedup.py", "--input", str(data), "--output", str(out))
    kept = jsonl_rows(out / "deduplicated")
    assert sorted(r["text"] for r in kept) == ["blue fish", "one fish", "red fish", "two fish"]
    assert "removed 3 duplicate document(s)" in stdout
    assert (out / "cache" / "exact_id_generator.json").is_file()
