"""JsonlWriter / ParquetWriter: round trips, naming, collisions, atomicity, path safety."""

from __future__ import annotations

import json
import math
import os
import pickle

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from raycurator.backends.local import LocalExecutor
from raycurator.pipeline import Pipeline
from raycurator.stages.text.io.reader import JsonlReader, ParquetReader
from raycurator.stages.text.io.writer import JsonlWriter, OutputCollisionError, ParquetWriter
from raycurator.stages.text.io.writer._files import file_stem, join_inside
from raycurator.tasks import DocumentBatch, FileGroupTask

TRICKY = [
    'quotes " and \\ backslash',
    "controls \x00\x01\x1f tab\t cr\r nl\n end",
    "unicode é 日本 🙂 \U00010400 \u2028 sep",
    "",
]


def batch(table: pa.Table, task_id: str = "t1", **metadata) -> DocumentBatch:
    return DocumentBatch(task_id=task_id, dataset_name="d", data=table, _metadata=dict(metadata))


def tricky_table() -> pa.Table:
    return pa.table(
        {
            "text": pa.array(TRICKY),
            "n": pa.array([1, None, -3, 2**40]),
            "ok": pa.array([True, False, None, True]),
            "score": pa.array([1.0, 0.5, None, -2.25]),
            "meta": pa.array([{"a": [1, 2], "b": "x"}, {"a": [], "b": None}, None, {"a": [3], "b": "ü"}]),
            "nothing": pa.array([None] * 4, type=pa.null()),
            "big": pa.array(TRICKY, type=pa.large_string()),
        }
    )


def written_files(root) -> list[str]:
    return sorted(os.listdir(root))


def test_jsonl_lines_are_valid_json_equal_to_the_rows(tmp_path):
    table = tricky_table()
    out = JsonlWriter(str(tmp_path)).process(batch(table, source_files=["/in/a.jsonl"]))
    assert isinstance(out, FileGroupTask)
    assert out.data == [str(tmp_path / "t1.jsonl")]
    assert out.source_files == ["/in/a.jsonl"]
    lines = (tmp_path / "t1.jsonl").read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == 5
    assert [json.loads(line) for line in lines[:-1]] == table.to_pylist()
    assert "日本 🙂".encode() in lines[2]  # non-ASCII is written as UTF-8, not escaped


def test_jsonl_round_trip_through_the_reader(tmp_path):
    table = tricky_table().drop_columns(["nothing"])
    JsonlWriter(str(tmp_path / "out")).process(batch(table))
    back = Pipeline("p", stages=[JsonlReader(str(tmp_path / "out"))]).run(LocalExecutor())
    assert back[0].data.to_pylist() == table.to_pylist()


def test_float_specials_and_whole_floats_keep_their_type(tmp_path):
    table = pa.table({"x": [1.0, float("nan"), float("inf")]})
    JsonlWriter(str(tmp_path)).process(batch(table))
    back = Pipeline("p", stages=[JsonlReader(str(tmp_path))]).run(LocalExecutor())[0].data
    assert back.schema.field("x").type == pa.float64()
    values = back["x"].to_pylist()
    assert values[0] == 1.0 and math.isnan(values[1]) and values[2] == math.inf


def test_parquet_round_trip_with_write_kwargs(tmp_path):
    table = tricky_table()
    out = ParquetWriter(str(tmp_path), write_kwargs={"compression": "zstd"}).process(batch(table))
    assert out.data == [str(tmp_path / "t1.parquet")]
    assert pq.read_table(out.data[0]).equals(table)
    assert pq.ParquetFile(out.data[0]).metadata.row_group(0).column(0).compression == "ZSTD"
    back = Pipeline("p", stages=[ParquetReader(str(tmp_path))]).run(LocalExecutor())
    assert back[0].data.to_pylist() == table.to_pylist()


def test_fields_selects_columns_and_missing_fields_are_named(tmp_path):
    table = pa.table({"text": ["a"], "id": [1]})
    JsonlWriter(str(tmp_path), fields=["id"]).process(batch(table))
    assert json.loads((tmp_path / "t1.jsonl").read_text()) == {"id": 1}
    with pytest.raises(ValueError, match=r"lacks field\(s\) \['url'\]"):
        JsonlWriter(str(tmp_path), fields=["url"]).process(batch(table))


def test_names_are_deterministic_and_reruns_replace_leftovers(tmp_path):
    (tmp_path / "corpus_000003.jsonl").write_text("stale content from an earlier run\n")
    table = pa.table({"text": ["fresh"]})
    first = JsonlWriter(str(tmp_path)).process(batch(table, "corpus_000003", run_id="run-a"))
    second = JsonlWriter(str(tmp_path)).process(batch(table, "corpus_000003", run_id="run-b"))
    assert first.data == second.data == [str(tmp_path / "corpus_000003.jsonl")]
    assert (tmp_path / "corpus_000003.jsonl").read_text() == '{"text":"fresh"}\n'
    assert written_files(tmp_path) == [".raycurator_run", "corpus_000003.jsonl"]


def test_collision_in_one_writer_is_an_error_and_the_first_file_survives(tmp_path):
    writer = JsonlWriter(str(tmp_path))
    writer.setup()
    writer.process(batch(pa.table({"text": ["first"]}), "same"))
    with pytest.raises(OutputCollisionError, match="'same'"):
        writer.process(batch(pa.table({"text": ["second"]}), "same"))
    assert (tmp_path / "same.jsonl").read_text() == '{"text":"first"}\n'
    writer.process(batch(pa.table({"text": ["first"]}), "same"))  # a retry with identical output is fine
    writer.setup()  # a new run starts afresh
    writer.process(batch(pa.table({"text": ["second"]}), "same"))
    assert (tmp_path / "same.jsonl").read_text() == '{"text":"second"}\n'


def test_collision_across_workers_of_one_run_is_detected_by_markers(tmp_path):
    worker_a, worker_b = JsonlWriter(str(tmp_path)), pickle.loads(pickle.dumps(JsonlWriter(str(tmp_path))))
    worker_a.process(batch(pa.table({"text": ["from a"]}), "p_000001", run_id="r1"))
    with pytest.raises(OutputCollisionError, match="written twice in one run"):
        worker_b.process(batch(pa.table({"text": ["from b"]}), "p_000001", run_id="r1"))
    assert (tmp_path / "p_000001.jsonl").read_text() == '{"text":"from a"}\n'
    # the same task retried on another worker writes identical bytes: allowed
    worker_b.process(batch(pa.table({"text": ["from a"]}), "p_000001", run_id="r1"))
    # a later run may overwrite
    worker_b.process(batch(pa.table({"text": ["from b"]}), "p_000001", run_id="r2"))
    assert (tmp_path / "p_000001.jsonl").read_text() == '{"text":"from b"}\n'


def test_successful_writes_leave_no_temporary_files(tmp_path):
    writer = ParquetWriter(str(tmp_path / "deep" / "out"))
    for i in range(3):
        writer.process(batch(pa.table({"text": [str(i)]}), f"t{i}"))
    assert written_files(tmp_path / "deep" / "out") == ["t0.parquet", "t1.parquet", "t2.parquet"]


def test_failed_write_leaves_no_partial_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    (tmp_path / "t1.jsonl").write_text("previous\n")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        JsonlWriter(str(tmp_path)).process(batch(pa.table({"text": ["new"]})))
    assert written_files(tmp_path) == ["t1.jsonl"]
    assert (tmp_path / "t1.jsonl").read_text() == "previous\n"

    def broken_serialize(self, table):
        raise RuntimeError("boom")

    monkeypatch.undo()
    monkeypatch.setattr(JsonlWriter, "serialize", broken_serialize)
    with pytest.raises(RuntimeError, match="boom"):
        JsonlWriter(str(tmp_path / "new")).process(batch(pa.table({"text": ["x"]})))
    assert not (tmp_path / "new").exists() or written_files(tmp_path / "new") == []


@pytest.mark.parametrize(
    "task_id",
    [
        "../../escape",
        "/etc/passwd",
        "..",
        ".",
        "a/../../b",
        "..\\..\\win",
        ".hidden",
        "_private",
        "ünï cødé",
        "x" * 300,
    ],
)
def test_names_never_escape_the_output_folder(tmp_path, task_id):
    root = tmp_path / "out"
    out = JsonlWriter(str(root)).process(batch(pa.table({"text": ["x"]}), task_id))
    (written,) = out.data
    assert os.path.dirname(written) == str(root)
    name = os.path.basename(written)
    assert not name.startswith((".", "_")) and name.endswith(".jsonl") and len(name) < 200
    assert written_files(root) == [name]
    assert written_files(tmp_path) == ["out"]


def test_sanitised_names_stay_distinct():
    ids = ["a/b", "a_b", "a b", "a:b", "../a_b"]
    stems = [file_stem(i) for i in ids]
    assert len(set(stems)) == len(ids)
    assert file_stem("corpus_000001") == "corpus_000001"
    assert file_stem("corpus_000001") == file_stem("corpus_000001")
    with pytest.raises(ValueError):
        join_inside("/out", "../x")
    with pytest.raises(ValueError):
        join_inside("/out", "a/b")


def test_writer_to_fsspec_memory_url():
    import fsspec

    fs = fsspec.filesystem("memory")
    try:
        out = JsonlWriter("memory://writer-test/out").process(batch(pa.table({"text": ["r"]}), run_id="r"))
        assert out.data == ["memory:///writer-test/out/t1.jsonl"]
        assert fs.cat_file("/writer-test/out/t1.jsonl") == b'{"text":"r"}\n'
        assert [p for p in fs.ls("/writer-test/out", detail=False) if ".tmp" in p] == []
        with pytest.raises(OutputCollisionError):
            JsonlWriter("memory://writer-test/out").process(batch(pa.table({"text": ["other"]}), run_id="r"))
    finally:
        fs.rm("/writer-test", recursive=True)


def test_empty_batches_write_empty_files(tmp_path):
    out = JsonlWriter(str(tmp_path)).process(batch(pa.table({"text": pa.array([], pa.string())})))
    assert (tmp_path / "t1.jsonl").read_bytes() == b""
    assert out.data == [str(tmp_path / "t1.jsonl")]


def test_writer_option_validation():
    with pytest.raises(ValueError, match="path"):
        JsonlWriter("")
    with pytest.raises(ValueError, match="file_extension"):
        JsonlWriter("/x", file_extension="a/b")
    with pytest.raises(ValueError, match="unsupported write_kwargs"):
        JsonlWriter("/x", write_kwargs={"orient": "records"})
    assert JsonlWriter("/x", file_extension=".json").file_extension == "json"


def test_nested_and_special_types_encode_like_python_json():
    from raycurator.stages.text.io.writer._json_encode import table_to_jsonl

    table = pa.table(
        {
            "list_of_structs": pa.array([[{"a": 1, "b": ["x", None]}], [], None, [None, {"a": None, "b": []}]]),
            "struct_of_lists": pa.array([{"l": [1.5, None]}, None, {"l": None}, {"l": []}]),
            "floats": pa.array([1e20, -0.0, 5e-324, 123.0]),
            "f32": pa.array([1.5, None, -2.0, 0.25], type=pa.float32()),
            "dict": pa.array(["a", "b", None, "a"]).dictionary_encode(),
            "when": pa.array([None, 0, 86400, 1], type=pa.timestamp("s")),
            "empty_struct": pa.array([{}, {}, None, {}], type=pa.struct([])),
            "large_list": pa.array([["q"], None, [], ["r", "s"]], type=pa.large_list(pa.string())),
        }
    )
    for sliced in (table, table.slice(1, 3)):
        lines = table_to_jsonl(sliced).decode("utf-8").splitlines()
        expected = [
            {k: (str(v) if k == "when" and v is not None else v) for k, v in row.items()} for row in sliced.to_pylist()
        ]
        assert [json.loads(line) for line in lines] == expected
    assert table_to_jsonl(pa.table({"x": pa.array([], pa.int64())})) == b""


def test_a_rerun_removes_temporary_files_left_by_a_killed_attempt(tmp_path):
    leftover = tmp_path / ".t1.jsonl.0123abcd.tmp"
    leftover.write_text('{"text":"half a li')
    unrelated = tmp_path / ".t2.jsonl.feedbeef.tmp"
    unrelated.write_text("another task's attempt")
    JsonlWriter(str(tmp_path)).process(batch(pa.table({"text": ["whole"]})))
    assert (tmp_path / "t1.jsonl").read_text() == '{"text":"whole"}\n'
    assert not leftover.exists()
    assert unrelated.exists(), "only the written file's own leftovers are removed"
