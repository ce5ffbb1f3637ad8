"""FilePartitioningStage: inputs, grouping, ids, errors."""

from __future__ import annotations

import pytest

from raycurator.stages.file_partitioning import FilePartitioningStage, parse_bytes, partition_files
from raycurator.tasks import EmptyTask


def make_files(root, sizes: dict[str, int]) -> None:
    for name, size in sizes.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)


def test_directory_is_listed_recursively_sorted_and_filtered(tmp_path):
    make_files(
        tmp_path,
        {
            "b.jsonl": 1,
            "a.jsonl": 1,
            "sub/c.jsonl": 1,
            "notes.txt": 1,
            ".hidden.jsonl": 1,
            "_SUCCESS": 1,
            ".raycurator_markers/r/x.jsonl.marker": 1,
            "_tmp/d.jsonl": 1,
        },
    )
    tasks = FilePartitioningStage(str(tmp_path), file_extensions=[".jsonl"]).process(EmptyTask)
    assert [t.data for t in tasks] == [
        [str(tmp_path / "a.jsonl")],
        [str(tmp_path / "b.jsonl")],
        [str(tmp_path / "sub" / "c.jsonl")],
    ]
    assert all(t.dataset_name == tasks[0].dataset_name for t in tasks)
    assert [t.task_id for t in tasks] == [f"{tasks[0].dataset_name}_{i:06d}" for i in range(3)]
    assert all(t._metadata["source_files"] == t.data for t in tasks)
    assert len({t._metadata["run_id"] for t in tasks}) == 1


def test_ids_are_deterministic_across_runs(tmp_path):
    make_files(tmp_path / "corpus", {f"f{i}.jsonl": 10 for i in range(5)})
    stage = FilePartitioningStage(str(tmp_path / "corpus"), files_per_partition=2)
    first, second = stage.process(EmptyTask), stage.process(EmptyTask)
    assert [t.task_id for t in first] == ["corpus_000000", "corpus_000001", "corpus_000002"]
    assert [t.task_id for t in first] == [t.task_id for t in second]
    assert [t.data for t in first] == [t.data for t in second]
    assert first[0]._metadata["run_id"] != second[0]._metadata["run_id"]
    assert [len(t.data) for t in first] == [2, 2, 1]


def test_glob_single_file_and_list_inputs(tmp_path):
    make_files(tmp_path, {"a.jsonl": 1, "b.jsonl": 1, "c.parquet": 1, "data.txt": 1})
    glob_tasks = FilePartitioningStage(str(tmp_path / "*.jsonl")).process(EmptyTask)
    assert [t.data[0] for t in glob_tasks] == [str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl")]
    # explicitly named files are taken whatever their extension
    single = FilePartitioningStage(str(tmp_path / "data.txt"), file_extensions=[".jsonl"]).process(EmptyTask)
    assert single[0].data == [str(tmp_path / "data.txt")] and single[0].task_id == "data_000000"
    listed = FilePartitioningStage(
        [str(tmp_path / "c.parquet"), str(tmp_path / "a.jsonl"), str(tmp_path / "a.jsonl")], files_per_partition=5
    ).process(EmptyTask)
    assert listed[0].data == [str(tmp_path / "a.jsonl"), str(tmp_path / "c.parquet")]  # sorted, de-duplicated


def test_blocksize_groups_files_by_bytes(tmp_path):
    make_files(tmp_path, {"a": 400, "b": 400, "c": 400, "d": 1500, "e": 100})
    tasks = FilePartitioningStage(str(tmp_path), blocksize="1kB").process(EmptyTask)
    names = [[p.rsplit("/", 1)[1] for p in t.data] for t in tasks]
    assert names == [["a", "b"], ["c"], ["d"], ["e"]]
    assert FilePartitioningStage(str(tmp_path), blocksize=10**6).process(EmptyTask)[0].data.__len__() == 5


def test_limit_caps_partitions(tmp_path):
    make_files(tmp_path, {f"f{i}": 1 for i in range(4)})
    assert len(FilePartitioningStage(str(tmp_path), limit=2).process(EmptyTask)) == 2


def test_nothing_matching_is_an_error_naming_the_path(tmp_path):
    make_files(tmp_path, {"a.txt": 1})
    with pytest.raises(FileNotFoundError, match=r"no input files with extension\(s\) \['.jsonl'\]") as info:
        FilePartitioningStage(str(tmp_path), file_extensions=[".jsonl"]).process(EmptyTask)
    assert str(tmp_path) in str(info.value)
    missing = tmp_path / "missing"
    with pytest.raises(FileNotFoundError, match="does not exist") as info:
        FilePartitioningStage(str(missing)).process(EmptyTask)
    assert str(missing) in str(info.value)
    with pytest.raises(FileNotFoundError, match="no input files"):
        FilePartitioningStage(str(tmp_path / "*.jsonl")).process(EmptyTask)


def test_remote_urls_keep_their_protocol():
    import fsspec

    fs = fsspec.filesystem("memory")
    fs.pipe({"/partition-test/x/a.jsonl": b"{}", "/partition-test/x/b.jsonl": b"{}"})
    try:
        tasks = FilePartitioningStage("memory://partition-test/x", files_per_partition=2).process(EmptyTask)
        assert tasks[0].data == ["memory:///partition-test/x/a.jsonl", "memory:///partition-test/x/b.jsonl"]
        assert tasks[0].task_id == "x_000000"
    finally:
        fs.rm("/partition-test", recursive=True)


def test_option_validation():
    with pytest.raises(ValueError, match="not both"):
        FilePartitioningStage("x", files_per_partition=1, blocksize=10)
    with pytest.raises(ValueError, match="files_per_partition"):
        FilePartitioningStage("x", files_per_partition=0)
    with pytest.raises(ValueError, match="not a size"):
        FilePartitioningStage("x", blocksize="lots")


def test_parse_bytes_and_partition_files():
    assert parse_bytes("64MB") == 64 * 10**6
    assert parse_bytes("1GiB") == 2**30
    assert parse_bytes("1.5 kb") == 1500
    assert parse_bytes(123) == 123
    with pytest.raises(ValueError):
        parse_bytes(0)
    assert partition_files([("a", 1), ("b", 1), ("c", 1)]) == [["a"], ["b"], ["c"]]
