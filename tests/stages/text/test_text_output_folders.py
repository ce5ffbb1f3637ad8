"""Writers' output folders: the `_SUCCESS` manifest, write modes, input overlap, the lock, partition_by."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xxhash

from raycurator import DocumentBatch, ProcessingStage, StageExecutionError
from raycurator.backends.local import LocalExecutor
from raycurator.errors import PipelineConfigError
from raycurator.stages.text.io.reader import JsonlReader, ParquetReader
from raycurator.stages.text.io.writer import JsonlWriter, ParquetWriter
from raycurator.stages.text.io.writer._lock import FolderLock, LockHolder, OutputFolderLockedError
from raycurator.stages.text.io.writer._partition import NULL_PARTITION


def corpus(directory: Path, files: int = 3, docs: int = 4, lang: list | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for f in range(files):
        langs = lang or ["en"]
        rows = [
            {"id": f"{f}-{d}", "text": f"document {d} of file {f}", "language": langs[(f + d) % len(langs)]}
            for d in range(docs)
        ]
        (directory / f"part-{f}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return directory


def run(data: Path, writer, executor=None, **reader) -> list:
    stages = [*JsonlReader(str(data), **reader).decompose(), writer]
    return (executor or LocalExecutor()).execute(stages)


def ids(folder: Path, use_manifest: bool = False) -> list[str]:
    results = LocalExecutor().execute(JsonlReader(str(folder), use_manifest=use_manifest).decompose())
    return sorted(i for t in results for i in t.to_pyarrow().column("id").to_pylist())


def manifest(folder: Path) -> dict:
    return json.loads((folder / "_SUCCESS").read_text())


def test_a_finished_folder_holds_the_data_files_and_a_manifest_only(tmp_path):
    data, out = corpus(tmp_path / "in"), tmp_path / "out"
    run(data, JsonlWriter(str(out)))
    assert sorted(os.listdir(out)) == ["_SUCCESS", "in_000000.jsonl", "in_000001.jsonl", "in_000002.jsonl"]
    listed = manifest(out)
    assert listed["total_rows"] == 12 and listed["writer"] == "JsonlWriter" and listed["mode"] == "ignore"
    for entry in listed["files"]:
        content = (out / entry["path"]).read_bytes()
        assert entry["bytes"] == len(content) and entry["xxh3_128"] == xxhash.xxh3_128_hexdigest(content)
        assert entry["rows"] == len(content.splitlines()) == 4
    # a script opening every entry of the folder works (no folders left in it)
    assert all((out / name).is_file() for name in os.listdir(out))


def test_readers_can_read_exactly_the_run_the_manifest_lists(tmp_path):
    data, out = corpus(tmp_path / "in"), tmp_path / "out"
    run(data, ParquetWriter(str(out)))
    pq.write_table(pa.table({"id": ["foreign"], "text": ["x"], "language": ["en"]}), out / "zz-other.parquet")
    every = LocalExecutor().execute(ParquetReader(str(out)).decompose())
    only_run = LocalExecutor().execute(ParquetReader(str(out), use_manifest=True).decompose())
    assert sum(t.num_items for t in every) == 13
    assert sum(t.num_items for t in only_run) == 12
    (out / "in_000001.parquet").write_bytes(b"truncated")
    with pytest.raises(StageExecutionError, match=r"in_000001.parquet.*changed after its run"):
        LocalExecutor().execute(ParquetReader(str(out), use_manifest=True).decompose())
    (out / "_SUCCESS").unlink()
    with pytest.raises(StageExecutionError, match=r"no _SUCCESS manifest in .*out"):
        LocalExecutor().execute(ParquetReader(str(out), use_manifest=True).decompose())


def test_modes_overwrite_ignore_append_error(tmp_path):
    data, out = corpus(tmp_path / "in"), tmp_path / "out"
    run(data, JsonlWriter(str(out), mode="overwrite"))
    (data / "part-2.jsonl").unlink()  # an input file removed between two runs
    run(data, JsonlWriter(str(out)))  # ignore: the old output of the removed input stays...
    assert "in_000002.jsonl" in os.listdir(out)
    assert [f["path"] for f in manifest(out)["files"]] == ["in_000000.jsonl", "in_000001.jsonl"]  # ...unlisted
    assert ids(out, use_manifest=True) == sorted(f"{f}-{d}" for f in range(2) for d in range(4))

    run(data, JsonlWriter(str(out), mode="overwrite"))  # overwrite: no stale file of the old run
    assert sorted(os.listdir(out)) == ["_SUCCESS", "in_000000.jsonl", "in_000001.jsonl"]

    run(data, JsonlWriter(str(out), mode="append"))  # append: both runs' files, nothing replaced
    token = manifest(out)["run"]
    assert set(os.listdir(out)) == {
        "_SUCCESS", "in_000000.jsonl", "in_000001.jsonl", f"in_000000-{token}.jsonl", f"in_000001-{token}.jsonl"
    }
    assert len(ids(out)) == 16 and len(ids(out, use_manifest=True)) == 8

    before = {name: (out / name).read_bytes() for name in os.listdir(out)}
    with pytest.raises(FileExistsError, match=r"out already exists \(mode='error'\)"):
        run(data, JsonlWriter(str(out), mode="error"))
    assert {name: (out / name).read_bytes() for name in os.listdir(out)} == before
    run(data, JsonlWriter(str(tmp_path / "fresh"), mode="error"))
    assert (tmp_path / "fresh" / "_SUCCESS").exists()
    with pytest.raises(ValueError, match=r"invalid mode 'replace'.*'overwrite'"):
        JsonlWriter(str(out), mode="replace")


@pytest.mark.parametrize("where", ["in", "in/sub/out", "."])
def test_a_writer_into_its_inputs_is_refused_before_anything_runs(tmp_path, where):
    data = corpus(tmp_path / "in")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with pytest.raises(PipelineConfigError, match=r"overlaps the input folder .*in.* read by stage 'file_partit"):
        run(data, JsonlWriter(str(tmp_path / where)))
    assert sorted(p.name for p in tmp_path.rglob("*")) == before, "nothing may be written"


def test_a_writer_into_the_folder_of_an_input_file_is_refused(tmp_path):
    data = corpus(tmp_path / "in")
    with pytest.raises(PipelineConfigError, match="folder of the input file"):
        LocalExecutor().execute([*JsonlReader(str(data / "part-0.jsonl")).decompose(), JsonlWriter(str(data))])
    LocalExecutor().execute([*JsonlReader(str(data / "part-0.jsonl")).decompose(), JsonlWriter(str(tmp_path / "o"))])


class Slow(ProcessingStage[DocumentBatch, DocumentBatch]):
    _name = "slow"

    def __init__(self, started: threading.Event, release: threading.Event) -> None:
        self.started, self.release = started, release

    def process(self, task: DocumentBatch) -> DocumentBatch:
        self.started.set()
        assert self.release.wait(30)
        return task


def test_a_second_run_into_the_same_folder_fails_while_the_first_runs(tmp_path):
    data, out = corpus(tmp_path / "in"), tmp_path / "out"
    started, release, errors = threading.Event(), threading.Event(), []

    def first() -> None:
        try:
            stages = [*JsonlReader(str(data)).decompose(), Slow(started, release), JsonlWriter(str(out))]
            LocalExecutor().execute(stages)
        except Exception as error:  # reported below
            errors.append(error)

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert started.wait(30)
        busy = rf"output folder .*out is in use by another run \(process {os.getpid()}"
        with pytest.raises(OutputFolderLockedError, match=busy):
            run(data, JsonlWriter(str(out)))
    finally:
        release.set()
        thread.join(30)
    assert not errors
    assert len(manifest(out)["files"]) == 3  # the first run finished normally
    run(data, JsonlWriter(str(out)))  # and released the lock


def dead_pid() -> tuple[int, float]:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    import psutil

    started = psutil.Process(process.pid).create_time()
    process.wait()
    return process.pid, started


def write_lock(out: Path, holder: LockHolder) -> None:
    (out / ".raycurator_run").mkdir(parents=True)
    (out / ".raycurator_run" / "lock").write_bytes(holder.to_bytes())


def test_stale_locks_are_taken_over_and_live_ones_respected(tmp_path):
    data = corpus(tmp_path / "in")
    pid, started = dead_pid()
    now = time.time()
    write_lock(tmp_path / "dead", LockHolder(socket.gethostname(), pid, started, now, now, "t1"))
    run(data, JsonlWriter(str(tmp_path / "dead")))  # this host, process gone: stale
    assert not (tmp_path / "dead" / ".raycurator_run").exists()

    write_lock(tmp_path / "far", LockHolder("other-host", 1, 0.0, now - 600, now - 300, "t2"))
    run(data, JsonlWriter(str(tmp_path / "far")))  # another host, silent for 300 s > 120 s: stale

    write_lock(tmp_path / "busy", LockHolder("other-host", 1, 0.0, now - 600, now - 5, "t3"))
    with pytest.raises(OutputFolderLockedError, match="host 'other-host'"):
        run(data, JsonlWriter(str(tmp_path / "busy")))  # another host with a fresh heartbeat: respected


def test_the_lock_heartbeat_keeps_a_long_run_alive(tmp_path):
    from fsspec.implementations.local import LocalFileSystem

    lock = FolderLock(LocalFileSystem(), str(tmp_path / "lock"), str(tmp_path), heartbeat_s=0.05)
    lock.acquire()
    first = LockHolder.parse((tmp_path / "lock").read_bytes())
    time.sleep(0.3)
    later = LockHolder.parse((tmp_path / "lock").read_bytes())
    lock.release()
    assert first is not None and later is not None and later.heartbeat > first.heartbeat
    assert not (tmp_path / "lock").exists()


def test_partition_by_writes_safe_hive_folders_and_loses_no_row(tmp_path):
    langs = ["en", "zh", "../../evil", "a/b=c", None, ".", ".hidden", "", "日本語"]
    data, out = corpus(tmp_path / "in", files=3, docs=9, lang=langs), tmp_path / "out"
    run(data, JsonlWriter(str(out), partition_by="language"))
    folders = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert len(folders) == len(langs) - 1  # None and "" share Hive's default folder
    assert all(f.startswith("language=") and not f[len("language="):].startswith(".") for f in folders)
    decoded = {unquote(f[len("language="):]) for f in folders}
    assert decoded == {x for x in langs if x} | {NULL_PARTITION}
    assert all(p.resolve().is_relative_to(out.resolve()) for p in out.rglob("*"))
    assert not (tmp_path / "evil").exists()
    assert ids(out) == ids(data)  # every row, once
    listed = manifest(out)
    assert listed["total_rows"] == 27 and len(listed["files"]) == 3 * 8
    for entry in listed["files"]:
        folder, name = entry["path"].split("/")
        rows = [json.loads(line) for line in (out / folder / name).read_text().splitlines()]
        expected = {None, ""} if folder.endswith(NULL_PARTITION) else {unquote(folder[len("language="):])}
        assert {r["language"] for r in rows} <= expected
    first = sorted(str(p.relative_to(out)) for p in out.rglob("*.jsonl"))
    run(data, JsonlWriter(str(out), partition_by="language", mode="overwrite"))
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.jsonl")) == first  # deterministic names
    assert ids(out, use_manifest=True) == ids(data)


def test_parquet_partition_by_two_columns(tmp_path):
    data, out = corpus(tmp_path / "in", lang=["en", "de"]), tmp_path / "out"
    stages = [*JsonlReader(str(data)).decompose(), ParquetWriter(str(out), partition_by=["language", "id"])]
    LocalExecutor().execute(stages)
    paths = sorted(str(p.relative_to(out)) for p in out.rglob("*.parquet"))
    assert len(paths) == 12 and paths[0] == "language=de/id=0-1/in_000000.parquet"
    assert sum(pq.read_table(out / p).num_rows for p in paths) == 12
    with pytest.raises(ValueError, match="partition_by columns"):
        ParquetWriter(str(out), fields=["text"], partition_by="language")


def test_output_folders_on_an_fsspec_url(tmp_path):
    import fsspec

    data, url = corpus(tmp_path / "in", lang=["en", "../x"]), "memory://output-folders-test/out"
    run(data, JsonlWriter(url, partition_by="language", mode="overwrite"))
    fs = fsspec.filesystem("memory")
    try:
        found = sorted(p.split("/out/", 1)[1] for p in fs.find("/output-folders-test/out"))
        assert found[0] == "_SUCCESS" and len(found) == 7
        assert {p.split("/")[0] for p in found[1:]} == {"language=en", "language=%2E.%2Fx"}
        results = LocalExecutor().execute(JsonlReader(url, use_manifest=True).decompose())
        assert sum(t.num_items for t in results) == 12
    finally:
        fs.rm("/output-folders-test", recursive=True)
