"""`examples/handoff.yaml` run by the `raycurator` command after `examples/prepare_handoff.py`."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from tokenizers import Tokenizer

ROOT = Path(__file__).resolve().parents[4]


@pytest.mark.slow
@pytest.mark.timeout(280)
def test_prepare_then_run_the_handoff_example(tmp_path):
    out = tmp_path / "handoff"
    prepared = subprocess.run(
        [sys.executable, "examples/prepare_handoff.py", "--out", str(out), "--vocab-size", "600"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert prepared.returncode == 0, prepared.stderr
    assert (out / "tokenizer" / "tokenizer.json").is_file()
    assert len((out / "eval" / "reading.jsonl").read_text().splitlines()) == 5
    overrides = {
        "stages.2.NGramDecontaminator.eval_files.reading": out / "eval" / "reading.jsonl",
        "stages.2.NGramDecontaminator.eval_files.trivia": out / "eval" / "trivia.jsonl",
        "stages.2.NGramDecontaminator.index_dir": tmp_path / "index",
        "stages.3.CorpusStatistics.tokenizer": out / "tokenizer",
        "stages.4.MegatronTokenizerWriter.model_identifier": out / "tokenizer",
        "stages.4.MegatronTokenizerWriter.path": out / "megatron",
    }
    args = [arg for key, value in overrides.items() for arg in ("--set", f"{key}={value}")]
    run = subprocess.run(
        [sys.executable, "-m", "raycurator.cli.main", "run", "examples/handoff.yaml", "--no-progress",
         "--log-dir", str(tmp_path / "runs"), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(next((tmp_path / "runs").glob("*/report.json")).read_text())
    stats = next(s for s in report["stages"] if s["stage_name"] == "corpus_statistics")
    if "custom_metrics" in stats:  # reports carry the stages' custom metrics (a feature merged separately)
        assert "statistics of stage corpus_statistics:" in run.stdout and "tokens (" in run.stdout

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from megatron.core.datasets.indexed_dataset import IndexedDataset
    tokenizer = Tokenizer.from_file(str(out / "tokenizer" / "tokenizer.json"))
    eod = tokenizer.token_to_id("<|endoftext|>")
    documents = []
    for idx in sorted((out / "megatron").glob("*.idx")):
        dataset = IndexedDataset(str(idx.with_suffix("")))
        for i in range(len(dataset)):
            ids = dataset[i].tolist()
            assert ids[-1] == eod
            documents.append(tokenizer.decode(ids[:-1]))
    sample = [json.loads(line) for line in (ROOT / "examples" / "data" / "sample.jsonl").read_text().splitlines()]
    contact = (ROOT / "examples" / "data" / "contact_pages.jsonl").read_text().splitlines()
    leaked = [json.loads(line)["passage"] for line in (out / "eval" / "reading.jsonl").read_text().splitlines()]
    assert 0 < len(sample) + len(contact) - len(documents) <= 15  # the leaked documents (and their copies) went
    text = "\n".join(documents)
    for value in ("press.office@example.com", "(555) 014-2389", "GB82 WEST", "4111 1111", "Tr0ub4dor3",
                  "AKIAIOSFODNN7EXAMPLE", "078-05-1120", "203.0.113.42"):  # fmt: skip
        assert value not in text
    assert "<EMAIL:" in text and "opening hours of the library" in text
    assert not any(" ".join(p.lower().split()[5:18]) in " ".join(text.lower().split()) for p in leaked)
