"""The driver's side of a writer's output folder: write mode, lock, and the `_SUCCESS` manifest.

Opening a folder for a run (`OutputFolderSession`):
1. mode "error" refuses a folder that exists (unless the run resumes one of its own);
2. the folder's lock is taken (`_lock`; a second run writing the same folder fails);
3. the run is new, or continues the unfinished run recorded in `.raycurator_run/run.json`
   when the executor resumes from a checkpoint (a finished run's `_SUCCESS` seeds the records
   when everything was finished already); a new run forgets an old run's records;
4. mode "overwrite" empties the folder for a new run; any old `_SUCCESS` is removed, so a
   folder without one is known to be incomplete.
Workers then write files and record each (`_files`). Finishing a successful run: "overwrite"
deletes every file the run did not write (stale outputs of removed inputs included), leftover
temporary files are removed, `_SUCCESS` lists the recorded files, and `.raycurator_run` is
removed, so the folder holds the data files and the manifest only. A failed run only releases
the lock, keeping its records for a resume.
"""

from __future__ import annotations

import json
import logging
import posixpath
import time
import uuid
from enum import StrEnum
from typing import Any

import fsspec

from raycurator.stages.output_manifest import MANIFEST_NAME, Manifest, ManifestEntry, manifest_path, read_manifest
from raycurator.stages.run_lifecycle import OutputSession, RunContext
from raycurator.stages.text.io._fs import url_to_fs
from raycurator.stages.text.io.writer._files import (
    MARKERS,
    RECORDS,
    STATE_DIR,
    atomic_write,
    is_temporary,
    join_inside,
    record_path,
    state_dir,
)
from raycurator.stages.text.io.writer._lock import DEFAULT_STALE_AFTER_S, FolderLock

logger = logging.getLogger(__name__)

RUN_FILE = "run.json"
LOCK_FILE = "lock"


class WriteMode(StrEnum):
    """What a writer does with an output folder that already holds files (NeMo Curator's `mode`)."""

    IGNORE = "ignore"  # keep existing files; files of the same name are replaced
    OVERWRITE = "overwrite"  # the folder ends up holding this run's files only
    APPEND = "append"  # keep existing files; this run's file names carry a run token, so none is replaced
    ERROR = "error"  # refuse a folder that exists

    @classmethod
    def parse(cls, value: str, owner: str) -> WriteMode:
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            raise ValueError(f"{owner}: invalid mode {value!r}; allowed: {[m.value for m in cls]}") from None


def _rm(fs: fsspec.AbstractFileSystem, path: str, recursive: bool = False) -> None:
    try:
        fs.rm(path, recursive=recursive)
    except FileNotFoundError:
        pass


class OutputFolderSession(OutputSession):
    """One writer's output folder held open for one run (driver side)."""

    def __init__(
        self,
        writer: str,
        path: str,
        storage_options: dict[str, Any],
        mode: WriteMode,
        context: RunContext,
        lock_stale_after_s: float = DEFAULT_STALE_AFTER_S,
    ) -> None:
        self.writer, self.path, self.mode = writer, path, mode
        self.fs, self.root = url_to_fs(path, storage_options)
        self.state = state_dir(self.root)
        run_file = join_inside(self.state, RUN_FILE)
        unfinished = self.fs.exists(run_file)
        try:
            finished = read_manifest(self.fs, self.root)
        except ValueError as error:
            logger.warning("ignoring %s: %s", manifest_path(self.root), error)
            finished = None
        own_run = context.resuming and (unfinished or finished is not None)
        if mode is WriteMode.ERROR and self.fs.exists(self.root) and not own_run:
            raise FileExistsError(f"{writer}: output folder {path} already exists (mode='error')")
        self.fs.makedirs(self.state, exist_ok=True)
        self.lock = FolderLock(self.fs, join_inside(self.state, LOCK_FILE), path, lock_stale_after_s)
        self.lock.acquire()
        try:
            self.token = self._start(run_file, context, unfinished, finished)
        except BaseException:
            self.lock.release()
            raise

    def _start(self, run_file: str, context: RunContext, unfinished: bool, finished: Manifest | None) -> str:
        if context.resuming and unfinished:
            token = str(json.loads(self.fs.cat_file(run_file))["token"])
            logger.info("output folder %s: continuing the unfinished run %s", self.path, token)
        elif context.resuming and finished is not None:
            token = finished.run
            for entry in finished.files:  # everything was written already: the resumed run keeps it
                atomic_write(self.fs, record_path(self.root, entry.path), json.dumps(entry.to_dict()).encode(), False)
        else:
            token = uuid.uuid4().hex[:12]
            for stale in (RECORDS, MARKERS):
                _rm(self.fs, join_inside(self.state, stale), recursive=True)
            if self.mode is WriteMode.OVERWRITE:
                self._empty_folder()
        payload = {"token": token, "writer": self.writer, "mode": self.mode.value, "started": time.time()}
        atomic_write(self.fs, run_file, json.dumps(payload).encode(), sweep=False)
        _rm(self.fs, manifest_path(self.root))
        return token

    def _entries(self) -> list[str]:
        """Every file under the folder outside `.raycurator_run`, as paths relative to it."""
        prefix = self.root.rstrip("/") + "/"
        found = []
        for name in self.fs.find(self.root):
            relative = name[len(prefix) :] if name.startswith(prefix) else posixpath.basename(name)
            if relative.split("/", 1)[0] != STATE_DIR:
                found.append(relative)
        return sorted(found)

    def _empty_folder(self) -> None:
        logger.info("output folder %s: removing its contents (mode='overwrite')", self.path)
        for entry in self.fs.ls(self.root, detail=False):
            if posixpath.basename(entry.rstrip("/")) != STATE_DIR:
                _rm(self.fs, entry, recursive=True)

    def _records(self) -> list[ManifestEntry]:
        directory = join_inside(self.state, RECORDS)
        if not self.fs.exists(directory):
            return []
        entries = {}
        for name in self.fs.ls(directory, detail=False):
            if name.endswith(".json") and not is_temporary(posixpath.basename(name)):
                entry = ManifestEntry.from_dict(json.loads(self.fs.cat_file(name)))
                entries[entry.path] = entry
        return list(entries.values())

    def _remove_empty_folders(self) -> None:
        folders = sorted(
            (d for d in self.fs.find(self.root, withdirs=True, detail=True).items() if d[1].get("type") == "directory"),
            key=lambda item: -len(item[0]),
        )
        for name, _ in folders:
            if STATE_DIR in name.split("/") or name.rstrip("/") == self.root.rstrip("/"):
                continue
            try:
                if not self.fs.ls(name, detail=False):
                    self.fs.rmdir(name)
            except OSError:
                pass

    def finish(self, succeeded: bool) -> None:
        if not succeeded:
            self.lock.release()
            return
        try:
            records = self._records()
            present = set(self._entries())
            missing = sorted(e.path for e in records if e.path not in present)
            if missing:
                logger.error("output folder %s: files of this run disappeared during it: %s", self.path, missing[:10])
            kept = [e for e in records if e.path in present]
            written = {e.path for e in kept}
            for relative in present - written:
                leftover = posixpath.basename(relative)
                if is_temporary(leftover) or (self.mode is WriteMode.OVERWRITE and relative != MANIFEST_NAME):
                    _rm(self.fs, self._inside(relative))
            if self.mode is WriteMode.OVERWRITE:
                self._remove_empty_folders()
            manifest = Manifest(run=self.token, writer=self.writer, mode=self.mode.value, files=kept)
            atomic_write(self.fs, manifest_path(self.root), manifest.to_json().encode("utf-8"))
            for part in (RECORDS, MARKERS, RUN_FILE):
                _rm(self.fs, join_inside(self.state, part), recursive=part != RUN_FILE)
            logger.info(
                "output folder %s: %d file(s), %d row(s) listed in %s", self.path, len(kept), manifest.total_rows,
                MANIFEST_NAME,
            )  # fmt: skip
        finally:
            self.lock.release()
        try:
            if not self.fs.ls(self.state, detail=False):
                self.fs.rmdir(self.state)
        except OSError:
            pass

    def _inside(self, relative: str) -> str:
        path = posixpath.normpath(posixpath.join(self.root, relative))
        if not path.startswith(self.root.rstrip("/") + "/"):
            raise ValueError(f"{relative!r} is outside {self.root!r}")
        return path
