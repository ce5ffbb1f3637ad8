"""JsonlReader / ParquetReader: reading, partitioning, empty and malformed input, fields."""

from __future__ import annotations

import gzip
import json
import logging

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from raycurator.backends.local import LocalExecutor
from raycurator.errors import StageExecutionError
from raycurator.pipeline import Pipeline
from raycurator.stages.text.io.reader import JsonlReader, JsonlReaderStage, ParquetReader, ParquetReaderStage
from raycurator.tasks import DocumentBatch, FileGroupTask
from raycurator.tasks.utils import TaskPerfUtils


def run(*stages) -> list:
    return Pipeline("readers", stages=list(stages)).run(LocalExecutor())


def write_jsonl(path, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def rows_of(tasks) -> list[dict]:
    return [row for task in tasks for row in task.to_pyarrow().to_pylist()]


def test_jsonl_reader_reads_unicode_nested_and_metadata(tmp_path):
    rows = [
        {"id": 1, "text": "héllo “world” 日本語 🙂", "meta": {"lang": "fr", "tags": ["a", "b"]}},
        {"id": 2, "text": 'line\nbreak "quoted" \\ back', "meta": {"lang": "en", "tags": []}},
    ]
    write_jsonl(tmp_path / "in" / "a.jsonl", rows)
    tasks = run(JsonlReader(str(tmp_path / "in")))
    assert len(tasks) == 1 and isinstance(tasks[0], DocumentBatch)
    assert isinstance(tasks[0].data, pa.Table)
    assert rows_of(tasks) == rows
    assert tasks[0].source_files == [str(tmp_path / "in" / "a.jsonl")]
    assert tasks[0].task_id == "in_000000"


def test_files_per_partition_and_blocksize(tmp_path):
    for i in range(5):
        write_jsonl(tmp_path / f"f{i}.jsonl", [{"text": f"doc {i} {j}"} for j in range(3)])
    grouped = run(JsonlReader(str(tmp_path), files_per_partition=2))
    assert [t.num_items for t in grouped] == [6, 6, 3]
    assert grouped[0].source_files == [str(tmp_path / "f0.jsonl"), str(tmp_path / "f1.jsonl")]
    size = (tmp_path / "f0.jsonl").stat().st_size
    by_bytes = run(JsonlReader(str(tmp_path), blocksize=size * 3))
    assert [t.num_items for t in by_bytes] == [9, 6]
    assert [r["text"] for r in rows_of(by_bytes)] == [f"doc {i} {j}" for i in range(5) for j in range(3)]


def test_glob_and_list_inputs_and_fields(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [{"text": "a", "x": 1}])
    write_jsonl(tmp_path / "b.jsonl", [{"text": "b", "x": 2}])
    (tmp_path / "c.txt").write_text("not json")
    assert [r["text"] for r in rows_of(run(JsonlReader(str(tmp_path / "*.jsonl"))))] == ["a", "b"]
    listed = run(JsonlReader([str(tmp_path / "b.jsonl"), str(tmp_path / "a.jsonl")], fields=["x"]))
    assert rows_of(listed) == [{"x": 1}, {"x": 2}]


def test_empty_files_give_no_rows_and_no_task(tmp_path):
    (tmp_path / "empty.jsonl").write_bytes(b"")
    (tmp_path / "blank.jsonl").write_text("\n  \n\n")
    write_jsonl(tmp_path / "full.jsonl", [{"text": "x"}])
    tasks = run(JsonlReader(str(tmp_path)))
    assert [t.source_files for t in tasks] == [[str(tmp_path / "full.jsonl")]]
    together = run(JsonlReader(str(tmp_path), files_per_partition=3))
    assert rows_of(together) == [{"text": "x"}]
    (tmp_path / "full.jsonl").unlink()
    assert run(JsonlReader(str(tmp_path), files_per_partition=3)) == []


def test_malformed_line_is_an_error_naming_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "ok"}\n\n{"text": broken}\n{"text": "ok2"}\n')
    with pytest.raises(StageExecutionError, match=r"malformed JSON in file .*bad\.jsonl at line 3") as info:
        run(JsonlReader(str(tmp_path)))
    assert str(path) in str(info.value)


def test_non_object_and_invalid_utf8_lines_are_malformed(tmp_path):
    (tmp_path / "list.jsonl").write_text('{"text": "a"}\n[1, 2]\n')
    with pytest.raises(StageExecutionError, match="at line 2: expected a JSON object"):
        run(JsonlReader(str(tmp_path / "list.jsonl")))
    (tmp_path / "bytes.jsonl").write_bytes(b'{"text": "a"}\n{"text": "b\xff"}\n')
    with pytest.raises(StageExecutionError, match="at line 2"):
        run(JsonlReader(str(tmp_path / "bytes.jsonl")))


def test_skip_malformed_drops_counts_and_warns(tmp_path, caplog):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "a"}\n{oops\n{"text": "b"}\n"just a string"\n{"text": "c"}\n')
    with caplog.at_level(logging.WARNING):
        tasks = run(JsonlReader(str(tmp_path), skip_malformed=True))
    assert [r["text"] for r in rows_of(tasks)] == ["a", "b", "c"]
    metrics = TaskPerfUtils.collect_stage_metrics(tasks)["jsonl_reader"]
    assert metrics["custom.malformed_lines_skipped"].sum() == 2
    assert any(
        "skipped 2 malformed JSON line(s)" in r.getMessage() and str(path) in r.getMessage() for r in caplog.records
    )


def test_all_lines_malformed_with_skipping_gives_no_task(tmp_path):
    (tmp_path / "bad.jsonl").write_text("{nope\n{nope\n")
    assert run(JsonlReader(str(tmp_path), skip_malformed=True)) == []


def test_missing_field_is_an_error_naming_field_and_file(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [{"text": "a"}])
    with pytest.raises(StageExecutionError, match=r"field\(s\) \['url'\] not found in file .*a\.jsonl"):
        run(JsonlReader(str(tmp_path), fields=["text", "url"]))


def test_dates_stay_strings_and_types_conflicts_are_named(tmp_path):
    write_jsonl(tmp_path / "d.jsonl", [{"text": "a", "date": "2024-01-01", "nested": {"at": "2024-01-01T10:00:00"}}])
    table = run(JsonlReader(str(tmp_path / "d.jsonl")))[0].data
    assert table.schema.field("date").type == pa.string()
    assert table.to_pylist()[0]["nested"] == {"at": "2024-01-01T10:00:00"}
    write_jsonl(tmp_path / "mixed.jsonl", [{"text": "a", "v": 1}, {"text": "b", "v": "one"}])
    with pytest.raises(StageExecutionError, match=r"mixed\.jsonl at line 2: field 'v' is a string"):
        run(JsonlReader(str(tmp_path / "mixed.jsonl")))


def test_fields_missing_in_some_lines_become_null(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [{"text": "a"}, {"text": "b", "extra": 5}])
    assert rows_of(run(JsonlReader(str(tmp_path)))) == [{"text": "a", "extra": None}, {"text": "b", "extra": 5}]


def test_records_longer_than_a_block_and_compressed_files(tmp_path):
    long_text = "word " * 50000
    write_jsonl(tmp_path / "long.jsonl", [{"text": "short"}, {"text": long_text}])
    stage = JsonlReaderStage(read_kwargs={"block_size": 4096})
    out = stage.process(FileGroupTask(task_id="t", dataset_name="d", data=[str(tmp_path / "long.jsonl")]))
    assert out.data["text"].to_pylist() == ["short", long_text]
    with gzip.open(tmp_path / "z.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.write('{"text": "zipped"}\n')
    assert rows_of(run(JsonlReader(str(tmp_path / "*.gz")))) == [{"text": "zipped"}]


def test_reader_from_fsspec_memory_url():
    import fsspec

    fs = fsspec.filesystem("memory")
    fs.pipe({"/reader-test/a.jsonl": b'{"text": "remote"}\n'})
    try:
        tasks = run(JsonlReader("memory://reader-test"))
        assert rows_of(tasks) == [{"text": "remote"}]
        assert tasks[0].source_files == ["memory:///reader-test/a.jsonl"]
    finally:
        fs.rm("/reader-test", recursive=True)


def test_nothing_matches_is_an_error(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(StageExecutionError, match="no input files") as info:
        run(JsonlReader(str(tmp_path)))
    assert str(tmp_path) in str(info.value)


def test_parquet_reader_fields_nested_and_empty(tmp_path):
    table = pa.table({"text": ["a", "ü"], "meta": [{"k": [1, 2]}, {"k": []}], "n": [1, 2]})
    pq.write_table(table, tmp_path / "a.parquet")
    pq.write_table(table.slice(0, 0), tmp_path / "b.parquet")  # no rows
    (tmp_path / "c.parquet").write_bytes(b"")  # zero bytes
    tasks = run(ParquetReader(str(tmp_path), files_per_partition=3))
    assert rows_of(tasks) == table.to_pylist()
    assert run(ParquetReader(str(tmp_path / "b.parquet"))) == []
    only = run(ParquetReader(str(tmp_path / "a.parquet"), fields=["n"]))
    assert only[0].data.column_names == ["n"]
    with pytest.raises(StageExecutionError, match=r"field\(s\) \['zzz'\] not found in file .*a\.parquet"):
        run(ParquetReader(str(tmp_path / "a.parquet"), fields=["zzz"]))
    (tmp_path / "d.parquet").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"cannot read Parquet file .*d\.parquet"):
        ParquetReaderStage().process(FileGroupTask(task_id="t", dataset_name="d", data=[str(tmp_path / "d.parquet")]))


def test_reader_options_are_validated():
    with pytest.raises(ValueError, match="unknown read_kwargs"):
        JsonlReader("x", read_kwargs={"lines": True})
    with pytest.raises(ValueError, match="fields"):
        JsonlReader("x", fields="text")
    reader = JsonlReader("x", read_kwargs={"storage_options": {"anon": True}})
    assert reader.storage_options == {"anon": True}
    parts = reader.decompose()
    assert [p.name for p in parts] == ["file_partitioning", "jsonl_reader"]
    configured = reader.with_({"jsonl_reader": {"batch_size": 4}}).decompose_and_apply_with()
    assert configured[1].batch_size == 4
