"""Where a run's report and failure ledger go: a local folder, or object storage through a local staging folder.

A run folder on a local disk is written in place. A run folder on object storage (`s3://...`,
any fsspec URL) is staged in a private local temporary folder while the run goes on (the
failure ledger is appended to line by line, which object stores cannot do) and uploaded file
by file when the run ends (`publish`), each file in one atomic write; the staging folder is
then removed. If the upload fails, the staging folder is kept and its path logged.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from raycurator.utils.storage import is_url, join, redact_url, scrub, write_atomic

logger = logging.getLogger(__name__)


@dataclass
class RunFolder:
    """A run's folder: `local` is where the run writes; `location` is where its files end up."""

    local: Path
    location: str
    storage_options: dict[str, Any] | None = None

    @classmethod
    def create(cls, base: str, run_id: str | None = None, storage_options: dict[str, Any] | None = None) -> RunFolder:
        """The folder of a new run under `base` (a local path or a URL); `run_id` defaults to time + random."""
        run_id = run_id or time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]
        if not is_url(base):
            return cls(Path(base) / run_id, str(Path(base) / run_id), storage_options)
        staging = Path(tempfile.mkdtemp(prefix=f"raycurator-run-{run_id}-")) / run_id
        return cls(staging, join(base, run_id), storage_options)

    @property
    def name(self) -> str:
        """The run id (the folder's last path segment)."""
        return self.local.name

    @property
    def remote(self) -> bool:
        """Whether the files are uploaded to object storage at the end."""
        return self.location != str(self.local)

    def location_of(self, local_path: str | os.PathLike[str]) -> str:
        """Where the file `local_path` (inside `local`) ends up."""
        relative = Path(local_path).resolve().relative_to(self.local.resolve())
        return join(self.location, relative.as_posix()) if self.remote else str(local_path)

    def publish(self) -> None:
        """Upload the staged files to `location` (nothing to do for a local run folder)."""
        if not self.remote or not self.local.exists():
            return
        try:
            for path in sorted(p for p in self.local.rglob("*") if p.is_file() and not p.name.startswith(".")):
                write_atomic(self.location_of(path), path.read_bytes(), self.storage_options)
        except Exception as error:  # the run itself is over: keep its files here and say where
            logger.warning(
                "could not upload the run folder to %s (%s); its files stay in %s",
                redact_url(self.location),
                scrub(f"{type(error).__name__}: {error}", self.storage_options),
                self.local,
            )
            return
        shutil.rmtree(self.local.parent, ignore_errors=True)
        logger.info("run folder uploaded to %s", redact_url(self.location))
