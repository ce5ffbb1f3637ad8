"""A lock on an output folder, so two runs never write the same folder at once.

The lock is a small JSON file created exclusively (it fails when the file exists). It names
its holder: host, process id, the process's start time, and a heartbeat time that a daemon
thread of the holder rewrites every `heartbeat_s` seconds.

A lock found in place is stale, and is taken over with a warning, when
- its holder ran on this host and that process no longer exists (or the process id now
  belongs to a process started after the lock was taken: the id was reused); or
- its holder ran on another host (its process cannot be checked from here) and its heartbeat
  is older than `stale_after_s` seconds (default 120: eight missed heartbeats); or
- it cannot be parsed and the file is older than `stale_after_s`.
A live holder on this host is never taken over, however old its heartbeat (a slow run is not
a dead run). So a crashed run blocks the folder at most `stale_after_s` for other hosts, and
not at all on its own host.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import fsspec
import psutil

from raycurator.stages.text.io._fs import is_local

logger = logging.getLogger(__name__)

DEFAULT_STALE_AFTER_S = 120.0
DEFAULT_HEARTBEAT_S = 15.0


class OutputFolderLockedError(RuntimeError):
    """Another live run holds the output folder's lock."""


def _process_started(pid: int) -> float | None:
    """When process `pid` of this host started, or None when there is no such process."""
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None
    except psutil.AccessDenied:
        return 0.0  # it exists; its start time is unknown


@dataclass
class LockHolder:
    """What a lock file says about its holder."""

    host: str
    pid: int
    process_started: float
    acquired: float
    heartbeat: float
    token: str

    def to_bytes(self) -> bytes:
        return json.dumps(self.__dict__).encode("utf-8")

    @classmethod
    def parse(cls, data: bytes) -> LockHolder | None:
        try:
            raw: dict[str, Any] = json.loads(data)
            return cls(
                str(raw["host"]), int(raw["pid"]), float(raw["process_started"]), float(raw["acquired"]),
                float(raw["heartbeat"]), str(raw["token"]),
            )  # fmt: skip
        except (ValueError, KeyError, TypeError):
            return None

    def describe(self) -> str:
        age = time.time() - self.acquired
        return f"process {self.pid} on host {self.host!r} (running for {age:.0f} s)"


def stale_reason(holder: LockHolder | None, file_age_s: float, stale_after_s: float) -> str | None:
    """Why a lock held by `holder` is stale, or None when it must be respected (see the module's rules)."""
    if holder is None:
        return "unreadable lock file" if file_age_s > stale_after_s else None
    if holder.host == socket.gethostname():
        started = _process_started(holder.pid)
        if started is None:
            return f"process {holder.pid} no longer exists"
        if started and started > holder.process_started + 1.0:
            return f"process id {holder.pid} now belongs to another process"
        return None
    silence = time.time() - holder.heartbeat
    if silence > stale_after_s:
        return f"no heartbeat from host {holder.host!r} for {silence:.0f} s"
    return None


class FolderLock:
    """The lock file `path` on filesystem `fs`, held by this process between `acquire` and `release`."""

    def __init__(
        self,
        fs: fsspec.AbstractFileSystem,
        path: str,
        folder: str,
        stale_after_s: float = DEFAULT_STALE_AFTER_S,
        heartbeat_s: float = DEFAULT_HEARTBEAT_S,
    ) -> None:
        self.fs, self.path, self.folder = fs, path, folder
        self.stale_after_s, self.heartbeat_s = stale_after_s, heartbeat_s
        self.holder: LockHolder | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _create(self, payload: bytes) -> bool:
        try:
            if is_local(self.fs):
                with open(self.path, "xb") as handle:
                    handle.write(payload)
            else:
                with self.fs.open(self.path, "xb") as handle:
                    handle.write(payload)
            return True
        except FileExistsError:
            return False
        except (ValueError, NotImplementedError):  # no exclusive create here: check, then write
            if self.fs.exists(self.path):
                return False
            self.fs.pipe_file(self.path, payload)
            return True

    def acquire(self) -> None:
        """Take the lock, taking over a stale one; `OutputFolderLockedError` when a live run holds it."""
        now = time.time()
        me = psutil.Process(os.getpid())
        holder = LockHolder(socket.gethostname(), os.getpid(), me.create_time(), now, now, uuid.uuid4().hex)
        for _ in range(3):
            if self._create(holder.to_bytes()):
                self.holder = holder
                self._start_heartbeat()
                return
            try:
                existing = self.fs.cat_file(self.path)
                info = self.fs.info(self.path)
            except FileNotFoundError:
                continue  # released meanwhile: try again
            modified = info.get("mtime") or info.get("LastModified") or info.get("created") or 0
            modified = modified.timestamp() if hasattr(modified, "timestamp") else float(modified)
            other = LockHolder.parse(existing)
            reason = stale_reason(other, time.time() - modified, self.stale_after_s)
            if reason is None:
                assert other is not None
                raise OutputFolderLockedError(
                    f"output folder {self.folder} is in use by another run ({other.describe()}; lock file "
                    f"{self.path}). Wait for that run to finish or stop it; a lock whose process has died is "
                    f"taken over automatically (on another host after {self.stale_after_s:.0f} s without a heartbeat)"
                )
            logger.warning("taking over the stale lock %s of output folder %s: %s", self.path, self.folder, reason)
            try:
                self.fs.rm(self.path)
            except FileNotFoundError:
                pass
        raise OutputFolderLockedError(f"could not take the lock {self.path} of output folder {self.folder}")

    def _start_heartbeat(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._beat, name=f"lock-heartbeat:{self.path}", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            holder = self.holder
            if holder is None:
                return
            try:
                current = LockHolder.parse(self.fs.cat_file(self.path))
                if current is None or current.token != holder.token:
                    logger.error("the lock %s of output folder %s was taken by another run", self.path, self.folder)
                    return
                holder.heartbeat = time.time()
                self.fs.pipe_file(self.path, holder.to_bytes())
            except OSError as error:
                logger.warning("could not refresh the lock %s: %s", self.path, error)

    def release(self) -> None:
        """Stop the heartbeat and delete the lock file if it is still ours."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        holder, self.holder = self.holder, None
        if holder is None:
            return
        try:
            current = LockHolder.parse(self.fs.cat_file(self.path))
            if current is not None and current.token == holder.token:
                self.fs.rm(self.path)
        except FileNotFoundError:
            pass
        except OSError as error:
            logger.warning("could not remove the lock %s: %s", self.path, error)
