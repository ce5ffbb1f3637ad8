"""Hostile inputs: absurdly nested lines, wrongly typed or missing text, pipes in input folders."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path

import pyarrow as pa
import pytest

from raycurator.backends.failures import FailureLedger
from raycurator.backends.local import LocalExecutor
from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
from raycurator.errors import StageExecutionError
from raycurator.pipeline import Pipeline
from raycurator.stages.file_partitioning import list_files
from raycurator.stages.text.filters import ScoreFilter
from raycurator.stages.text.filters.heuristic import WordCountFilter
from raycurator.stages.text.io.reader import JsonlReader
from raycurator.stages.text.io.reader._jsonl_parse import MAX_JSON_DEPTH, line_depths, too_deep_lines
from raycurator.stages.text.modifiers import Modify, UnicodeReformatter
from raycurator.tasks import DocumentBatch
from raycurator.tasks.utils import TaskPerfUtils


def deep_line(depth: int) -> str:
    return '{"text": "deep", "x": ' + "[" * depth + "]" * depth + "}"


def write_lines(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_local(*stages) -> list:
    return Pipeline("hostile", stages=list(stages)).run(LocalExecutor())


def test_depth_scan_ignores_brackets_inside_strings():
    text = json.dumps({"text": "]" * 500 + "[" * 500, "n": [[1, [2]]], "q": 'a \\" [ b'})
    assert line_depths(text.encode()).tolist() == [4]
    assert too_deep_lines(text.encode()) == []
    # closing brackets inside a string must not hide deep nesting after it
    sneaky = '{"t": "' + "]" * 300 + '", "x": ' + "[" * 300 + "]" * 300 + "}"
    assert too_deep_lines(f'{{"a": 1}}\n{sneaky}\n'.encode()) == [(2, 301)]
    assert too_deep_lines(deep_line(MAX_JSON_DEPTH - 1).encode()) == []


def test_a_line_nested_100000_deep_is_a_malformed_line_named_by_file_and_line(tmp_path):
    path = write_lines(tmp_path / "in" / "deep.jsonl", ['{"text": "fine"}', deep_line(100_000), '{"text": "ok"}'])
    start = time.monotonic()
    with pytest.raises(StageExecutionError, match=r"deep\.jsonl at line 2: nested 100001 levels deep") as info:
        run_local(JsonlReader(str(path)))
    assert str(path) in str(info.value)
    assert time.monotonic() - start < 10
    tasks = run_local(JsonlReader(str(path), skip_malformed=True))
    assert [r["text"] for t in tasks for r in t.to_pyarrow().to_pylist()] == ["fine", "ok"]
    metrics = TaskPerfUtils.collect_stage_metrics(tasks)["jsonl_reader"]
    assert metrics["custom.skipped.too_deep"].sum() == 1
    assert metrics[f"custom.skipped_in.{path}"].sum() == 1


def test_a_number_where_text_is_expected_names_file_line_and_field(tmp_path):
    path = write_lines(tmp_path / "t.jsonl", ['{"text": "a"}', '{"text": "b"}', '{"text": 42}', '{"text": "c"}'])
    with pytest.raises(StageExecutionError, match=r"t\.jsonl at line 3: field 'text' is a number \('42'\)"):
        run_local(JsonlReader(str(path)))
    tasks = run_local(JsonlReader(str(path), skip_malformed=True))
    assert [r["text"] for t in tasks for r in t.to_pyarrow().to_pylist()] == ["a", "b", "c"]
    assert TaskPerfUtils.collect_stage_metrics(tasks)["jsonl_reader"]["custom.skipped.field_type"].sum() == 1


def test_text_of_another_type_in_every_row_is_an_error_naming_field_and_files():
    task = DocumentBatch("t1", "d", pa.table({"text": [1, 2]}), _metadata={"source_files": ["/data/nums.jsonl"]})
    with pytest.raises(StageExecutionError, match=r"field 'text' of task 't1' holds int64 values.*nums\.jsonl"):
        Pipeline("p", stages=[ScoreFilter(WordCountFilter(min_words=1))]).run(LocalExecutor(), [task])


def test_null_and_missing_text_are_counted_and_treated_alike(tmp_path, caplog):
    path = write_lines(tmp_path / "n.jsonl", ['{"text": "one two three"}', '{"text": null}', '{"id": 3}'])
    with caplog.at_level(logging.WARNING):
        kept = run_local(JsonlReader(str(path)), ScoreFilter(WordCountFilter(min_words=1)))
        modified = run_local(JsonlReader(str(path)), Modify(UnicodeReformatter()))
    assert [r["text"] for t in kept for r in t.to_pyarrow().to_pylist()] == ["one two three"]
    # a modifier leaves absent text absent (no "" made up)
    assert [r["text"] for t in modified for r in t.to_pyarrow().to_pylist()] == ["one two three", None, None]
    for tasks, stage in ((kept, "ScoreFilter_word_count"), (modified, "Modify_unicode_reformatter")):
        metrics = TaskPerfUtils.collect_stage_metrics(tasks)
        name = next(n for n in metrics if n.startswith(stage.split("_")[0]))
        assert metrics[name]["custom.null_text"].sum() == 2
    warnings = [r.getMessage() for r in caplog.records if "have no 'text'" in r.getMessage()]
    assert len(warnings) == 2 and all(str(path) in w for w in warnings)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_fifo_in_an_input_folder_is_skipped_with_a_warning(tmp_path, caplog):
    folder = tmp_path / "in"
    write_lines(folder / "a.jsonl", ['{"text": "a"}'])
    os.mkfifo(folder / "b.jsonl")  # opening it for reading would block forever
    with caplog.at_level(logging.WARNING):
        assert [p for p, _ in list_files(str(folder))] == [str(folder / "a.jsonl")]
        assert [p for p, _ in list_files(str(folder / "*.jsonl"))] == [str(folder / "a.jsonl")]
    assert any("not a regular file" in r.getMessage() and "b.jsonl" in r.getMessage() for r in caplog.records)
    result: list = []
    worker = threading.Thread(target=lambda: result.append(run_local(JsonlReader(str(folder)))), daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), "the run hung on the pipe"
    assert len(result[0]) == 1
    with pytest.raises(StageExecutionError, match="not a regular file"):
        run_local(JsonlReader(str(folder / "b.jsonl")))


@pytest.mark.usefixtures("shared_ray")
def test_skipped_lines_land_in_the_report_and_the_ledger_under_ray(tmp_path):
    """On Ray the deep line no longer kills the actor; each skipped line is listed with file, line and reason."""
    bad = write_lines(
        tmp_path / "in" / "bad.jsonl",
        ['{"text": "a b"}', deep_line(100_000), "{oops", '{"text": 5}', '{"text": "c d"}', "[1]"],
    )
    good = write_lines(tmp_path / "in" / "good.jsonl", ['{"text": "e f"}'])
    executor = RayActorPoolExecutor(config={"log_dir": str(tmp_path / "runs")}, show_progress=False)
    stages = [*JsonlReader(str(tmp_path / "in"), skip_malformed=True).decompose(), ScoreFilter(WordCountFilter(1))]
    out = executor.execute(stages)
    assert sorted(r["text"] for t in out for r in t.to_pyarrow().to_pylist()) == ["a b", "c d", "e f"]
    report = json.loads((Path(executor.last_report.log_dir) / "report.json").read_text())
    reader = next(s for s in report["stages"] if s["stage_name"] == "jsonl_reader")
    assert reader["custom_metrics"]["malformed_lines_skipped"] == 4
    assert reader["custom_metrics"][f"skipped_in.{bad}"] == 4 and f"skipped_in.{good}" not in reader["custom_metrics"]
    assert {k: v for k, v in reader["custom_metrics"].items() if k.startswith("skipped.")} == {
        "skipped.too_deep": 1,
        "skipped.invalid_json": 1,
        "skipped.field_type": 1,
        "skipped.not_an_object": 1,
    }
    entries = FailureLedger.read(report["failure_ledger"])
    assert sorted((e["source_files"], e["line"], e["reason"], e["stage"]) for e in entries) == [
        ([str(bad)], 2, "too_deep", "jsonl_reader"),
        ([str(bad)], 3, "invalid_json", "jsonl_reader"),
        ([str(bad)], 4, "field_type", "jsonl_reader"),
        ([str(bad)], 6, "not_an_object", "jsonl_reader"),
    ]
    assert oct(os.stat(report["failure_ledger"]).st_mode & 0o777) == "0o600"
    assert "skipped.too_deep" in (Path(executor.last_report.log_dir) / "report.html").read_text()
