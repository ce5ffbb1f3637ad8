"""Writers on a filesystem without exclusive create, on real Ray (the actor-pool executor).

Writers create their collision markers and the folder's lock with fsspec's mode "xb"; a
filesystem that refuses that mode (as fsspec's `AbstractBufferedFile` does for modes other than
rb/wb/ab) gets check-then-write instead. `NoExclusiveCreateFileSystem` is such a filesystem:
the local disk behind a `DirFileSystem` (so not a `LocalFileSystem`: the writers go through
fsspec), registered under the protocol `noxcl` in each process that uses it, refusing "xb" and
logging what it refused and what it wrote, one line per call, to a file every process appends to.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import fsspec
import pytest
import xxhash
from fsspec.implementations.dirfs import DirFileSystem
from fsspec.implementations.local import LocalFileSystem
from ray import cloudpickle

from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
from raycurator.stages.text.io.reader import JsonlReader
from raycurator.stages.text.io.writer import JsonlWriter
from raycurator.stages.text.io.writer._files import OutputCollisionError, claim

cloudpickle.register_pickle_by_value(sys.modules[__name__])

PROTOCOL = "noxcl"


def no_exclusive_create_filesystem() -> type[DirFileSystem]:
    """The filesystem class, made where it is used: a class of this module would be pickled by value
    along with the instances fsspec caches on it."""

    class NoExclusiveCreateFileSystem(DirFileSystem):
        """The local disk through fsspec, refusing exclusive create; logs refusals and writes to `log`."""

        protocol = PROTOCOL

        def __init__(self, log: str, **kwargs: Any) -> None:
            super().__init__(path="/", fs=LocalFileSystem(), **kwargs)
            self.log = log

        def _note(self, what: str, path: str) -> None:
            with open(self.log, "a") as handle:  # one short append per line: lines of several processes stay whole
                handle.write(f"{what} {path}\n")

        def open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
            if "x" in mode:
                self._note("refused", path)
                raise NotImplementedError("File mode not supported")
            return super().open(path, mode, **kwargs)

        def pipe_file(self, path: str, value: bytes, **kwargs: Any) -> None:
            self._note("wrote", path)
            super().pipe_file(path, value, **kwargs)

    return NoExclusiveCreateFileSystem


def register() -> None:
    """Register the test protocol in this process (once)."""
    if PROTOCOL not in fsspec.registry:
        fsspec.register_implementation(PROTOCOL, no_exclusive_create_filesystem())


class Writer(JsonlWriter):
    """`JsonlWriter` with the test protocol registered in its worker process (Ray starts it afresh)."""

    def setup(self, worker_metadata: Any = None) -> None:
        register()
        super().setup(worker_metadata)


def corpus(folder: Path, files: int = 4, docs: int = 5) -> Path:
    folder.mkdir(parents=True)
    for f in range(files):
        rows = [json.dumps({"id": f"{f}-{d}", "text": f"document {d} of file {f}"}) for d in range(docs)]
        (folder / f"part-{f}.jsonl").write_text("\n".join(rows) + "\n")
    return folder


def run(data: Path, out: Path, log: Path) -> None:
    register()  # the driver opens and finishes the folder (lock, manifest)
    writer = Writer(f"{PROTOCOL}://{out}", storage_options={"log": str(log)})
    stages = [*JsonlReader(str(data), files_per_partition=1).decompose(), writer]
    RayActorPoolExecutor(show_progress=False).execute(stages)


def logged(log: Path) -> list[tuple[str, str]]:
    lines = log.read_text().splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    return [tuple(line.split(" ", 1)) for line in lines]


def test_a_run_on_a_filesystem_without_exclusive_create_writes_markers_and_a_correct_manifest(
    shared_ray, tmp_path
) -> None:
    data, out, log = corpus(tmp_path / "in"), tmp_path / "out", tmp_path / "fs.log"
    names = [f"in_{i:06d}.jsonl" for i in range(4)]
    manifests = []
    for attempt in range(2):  # the rerun into the same folder changes nothing
        run(data, out, log)
        assert sorted(os.listdir(out)) == ["_SUCCESS", *names], "only the data files and the manifest remain"
        listed = json.loads((out / "_SUCCESS").read_text())
        assert listed["total_rows"] == 20 and sorted(e["path"] for e in listed["files"]) == names
        for entry in listed["files"]:
            content = (out / entry["path"]).read_bytes()
            assert entry["rows"] == len(content.splitlines()) == 5
            assert entry["bytes"] == len(content) and entry["xxh3_128"] == xxhash.xxh3_128_hexdigest(content)
        written = sorted(json.loads(line)["id"] for name in names for line in (out / name).read_text().splitlines())
        assert written == sorted(f"{f}-{d}" for f in range(4) for d in range(5))
        manifests.append(sorted((e["path"], e["rows"], e["xxh3_128"]) for e in listed["files"]))
        # every exclusive create was refused and fell back to check-then-write: the lock and one marker per file
        events = logged(log)
        refused = sorted(path for what, path in events if what == "refused")
        markers = [p for p in refused if "/.raycurator_run/markers/" in p]
        assert sorted(Path(p).name for p in markers) == [f"{n}.marker" for n in names], attempt
        assert [p for p in refused if p not in markers] == [f"{out}/.raycurator_run/lock"]
        assert set(refused) <= {path for what, path in events if what == "wrote"}, "a refused create was not written"
    assert manifests[0] == manifests[1]


def test_the_fallback_marker_still_tells_a_retry_from_a_collision(tmp_path) -> None:
    """Check-then-write markers: the same task and content again (a retried task) is accepted; another
    task writing the same file in the same run is an error naming the file and both tasks."""
    register()
    log = tmp_path / "fs.log"
    fs, root = fsspec.core.url_to_fs(f"{PROTOCOL}://{tmp_path / 'out'}", log=str(log))
    claim(fs, root, "run-1", "part.jsonl", "task-a\nhash-1")
    claim(fs, root, "run-1", "part.jsonl", "task-a\nhash-1")  # a retry
    with pytest.raises(OutputCollisionError, match=r"'part.jsonl'.*'task-a'.*'task-b'"):
        claim(fs, root, "run-1", "part.jsonl", "task-b\nhash-2")
    claim(fs, root, "run-2", "part.jsonl", "task-b\nhash-2")  # another run: its own markers
    assert [what for what, _ in logged(log)] == ["refused", "wrote", "refused", "refused", "refused", "wrote"]
