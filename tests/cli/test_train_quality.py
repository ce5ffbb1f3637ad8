"""`raycurator train-quality`, and pipelines naming fastText models, through the command."""

from __future__ import annotations

import json
from pathlib import Path

from raycurator.cli.quality_demo import write_quality_training_data


def test_train_quality_writes_a_model_the_filter_uses(cli, tmp_path, corpus_dir):
    data = write_quality_training_data(tmp_path / "train", num_docs=300, seed=5)
    model = tmp_path / "models" / "quality.bin"
    args = ["train-quality", str(data), "--output", str(model), "--dim", "16", "--word-ngrams", "1"]
    result = cli(*args, "--epoch", "20", "--lr", "1.0", "--min-count", "2", "--bucket", "0")
    assert result.returncode == 0, str(result)
    assert "Trained on" in result.stdout and "precision 1.000, recall 1.000" in result.stdout, str(result)
    assert f"Model: {model}" in result.stdout and model.stat().st_size > 0

    pipeline = tmp_path / "quality.yaml"
    pipeline.write_text(
        f"""
executor: {{type: local}}
stages:
  - JsonlReader: {{file_paths: {corpus_dir}}}
  - ScoreFilter:
      filter_obj: {{FastTextQualityFilter: {{model_path: {model}}}}}
      score_field: quality
  - JsonlWriter: {{path: {tmp_path / "out"}}}
""",
        encoding="utf-8",
    )
    run = cli("run", str(pipeline))
    assert run.returncode == 0, str(run)
    rows = [json.loads(line) for path in (tmp_path / "out").glob("*.jsonl") for line in path.read_text().splitlines()]
    clean = [row for row in rows if not row["kind"].startswith("junk_")]
    assert clean and all(0.9 <= row["quality"] <= 1.0 for row in clean)


def test_train_quality_bad_data_exits_2_naming_file_and_line(cli, tmp_path):
    data = tmp_path / "bad.jsonl"
    data.write_text('{"text": "fine", "label": "hq"}\n{"text": "no label"}\n', encoding="utf-8")
    result = cli("train-quality", str(data), "--output", str(tmp_path / "m.bin"))
    assert result.returncode == 2, str(result)
    assert f"{data}, line 2: no 'label' field" in result.stderr
    assert not (tmp_path / "m.bin").exists()


def test_missing_or_corrupt_model_fails_before_ray_starts(cli, tmp_path, assert_no_ray):
    missing = tmp_path / "missing" / "quality.bin"
    corrupt = tmp_path / "corrupt.bin"
    corrupt.write_bytes(Path(__file__).read_bytes())
    for model, words in ((missing, "not found"), (corrupt, "damaged or not a fastText model")):
        pipeline = tmp_path / "bad_model.yaml"
        pipeline.write_text(
            f"""
stages:
  - JsonlReader: {{file_paths: examples/data/sample.jsonl}}
  - ScoreFilter:
      filter_obj: {{FastTextQualityFilter: {{model_path: {model}}}}}
  - JsonlWriter: {{path: {tmp_path / "out"}}}
""",
            encoding="utf-8",
        )
        result = cli("run", str(pipeline))
        assert result.returncode == 2, str(result)
        assert str(model) in result.stderr and words in result.stderr, str(result)
        assert_no_ray(result)
