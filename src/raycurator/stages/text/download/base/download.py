"""`DocumentDownloader` (what users subclass) and the stage that downloads a task's URLs.

A file is fetched to `<download_dir>/<name>.tmp` and renamed to its final name once complete,
so a final name always means a complete file: a rerun skips it. A partial `.tmp` left by a
killed run is continued from where it stopped when the source supports ranged reads, and
fetched again otherwise. Transient errors are retried with exponential back-off; a URL that
still fails raises `DownloadError` naming it (with `on_error="skip"` the executor records the
task in the failure ledger and the run goes on).

`download_dir` may be on object storage (`s3://bucket/downloads`): each file is then fetched
to a local temporary file and uploaded in one request, so an object there is always complete.
"""

from __future__ import annotations

import logging
import os
import posixpath
import tempfile
import time
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlparse

import fsspec

from raycurator.errors import RayCuratorError
from raycurator.stages.base import ProcessingStage
from raycurator.stages.resources import Resources
from raycurator.tasks import FileGroupTask
from raycurator.utils.storage import is_url, redact_url, url_to_fs
from raycurator.utils.storage import join as storage_join

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20


class DownloadError(RayCuratorError):
    """A URL could not be downloaded after all retries."""


class DocumentDownloader(ABC):
    """Downloads one URL into `download_dir`; subclasses say where and how."""

    def __init__(self, download_dir: str, verbose: bool = False) -> None:
        self._download_dir = download_dir
        self._verbose = verbose
        if not is_url(download_dir):  # object storage (`s3://...`): see `download`
            os.makedirs(download_dir, exist_ok=True)

    @property
    def download_dir(self) -> str:
        """The folder downloads go to."""
        return self._download_dir

    @abstractmethod
    def _get_output_filename(self, url: str) -> str:
        """The file name (no folder) that `url` is stored under."""

    @abstractmethod
    def _download_to_path(self, url: str, path: str) -> tuple[bool, str | None]:
        """Fetch `url` into `path`: (True, None) on success, (False, reason) otherwise."""

    def output_path(self, url: str) -> str:
        """Where `url` ends up once downloaded."""
        if is_url(self._download_dir):
            return storage_join(self._download_dir, self._get_output_filename(url))
        return os.path.join(self._download_dir, self._get_output_filename(url))

    def download(self, url: str) -> str:
        """The local path of `url`, downloading it unless a complete copy is already there.

        Raises `DownloadError` naming the URL when `_download_to_path` reports failure.
        """
        output_file = self.output_path(url)
        if is_url(output_file):
            return self._download_to_object_store(url, output_file)
        if os.path.exists(output_file) and os.path.getsize(output_file) > 0:
            logger.debug("%s already downloaded to %s", url, output_file)
            return output_file
        temp_file = output_file + ".tmp"
        success, error = self._download_to_path(url, temp_file)
        if not success:
            raise DownloadError(f"could not download {url} to {output_file}: {error}")
        os.replace(temp_file, output_file)
        if self._verbose:
            logger.info("downloaded %s to %s (%d bytes)", url, output_file, os.path.getsize(output_file))
        return output_file

    def _download_to_object_store(self, url: str, output_file: str) -> str:
        """`download` into a `download_dir` on object storage: fetched to a local temporary file, then
        uploaded in one request (the object appears complete or not at all); the store's credentials
        come from its standard environment (`storage_options` are the source's)."""
        fs, key = url_to_fs(output_file)
        try:
            if fs.info(key).get("size", 0) > 0:
                logger.debug("%s already downloaded to %s", url, redact_url(output_file))
                return output_file
        except FileNotFoundError:
            pass
        with tempfile.TemporaryDirectory(prefix="raycurator-download-") as scratch:
            temp_file = os.path.join(scratch, posixpath.basename(key) or "download")
            success, error = self._download_to_path(url, temp_file)
            if not success:
                raise DownloadError(f"could not download {url} to {redact_url(output_file)}: {error}")
            fs.put_file(temp_file, key)
            if self._verbose:
                size = os.path.getsize(temp_file)
                logger.info("downloaded %s to %s (%d bytes)", url, redact_url(output_file), size)
        return output_file

    def num_workers_per_node(self) -> int | None:
        """How many downloads may run at once on a node (None: no bound of the downloader's own)."""
        return None


class FsspecDownloader(DocumentDownloader):
    """Downloads through fsspec (http/https, s3 when s3fs is installed, local paths, ...).

    Transient errors (connection problems, HTTP 408/429/5xx) are retried up to `max_retries`
    times, waiting `backoff_s * 2**attempt` seconds in between. Data is read and written in
    blocks of `chunk_bytes`; a partial temporary file (a cut connection, a killed run) is
    continued from its last complete block with a ranged read when the source's size is known.
    """

    def __init__(
        self,
        download_dir: str,
        verbose: bool = False,
        max_retries: int = 4,
        backoff_s: float = 1.0,
        timeout_s: float = 300.0,
        max_concurrent_downloads: int | None = 4,
        storage_options: dict[str, Any] | None = None,
        chunk_bytes: int = _CHUNK,
    ) -> None:
        super().__init__(download_dir, verbose)
        self.chunk_bytes = chunk_bytes
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self.max_concurrent_downloads = max_concurrent_downloads
        self.storage_options = dict(storage_options or {})

    def download(self, url: str) -> str:
        """The local path of `url`: a local file is used where it is; anything else is downloaded."""
        local = _local_path(url)
        if local is not None:
            if not os.path.isfile(local):
                raise DownloadError(f"could not download {url}: no such local file")
            return local
        return super().download(url)

    def _get_output_filename(self, url: str) -> str:
        parsed = urlparse(url)
        path = parsed.path if parsed.scheme else url
        return posixpath.basename(path.rstrip("/")) or "download"

    def num_workers_per_node(self) -> int | None:
        return self.max_concurrent_downloads

    def _filesystem(self, url: str) -> tuple[fsspec.AbstractFileSystem, str]:
        options = dict(self.storage_options)
        if urlparse(url).scheme in ("http", "https"):
            import aiohttp

            client_kwargs = dict(options.get("client_kwargs") or {})
            client_kwargs.setdefault("timeout", aiohttp.ClientTimeout(total=self.timeout_s))
            options["client_kwargs"] = client_kwargs
        return fsspec.core.url_to_fs(url, **options)

    def _download_to_path(self, url: str, path: str) -> tuple[bool, str | None]:
        last_error = "no attempt made"
        for attempt in range(self.max_retries + 1):
            try:
                self._fetch(url, path)
                return True, None
            except FileNotFoundError as error:
                return False, f"not found: {error}"
            except Exception as error:
                last_error = f"{type(error).__name__}: {error}"
                if not _is_transient(error) or attempt == self.max_retries:
                    break
                wait = self.backoff_s * 2**attempt
                logger.warning("download of %s failed (%s); retry %d in %.1fs", url, last_error, attempt + 1, wait)
                time.sleep(wait)
        return False, last_error

    def _fetch(self, url: str, path: str) -> None:
        fs, remote = self._filesystem(url)
        try:
            size = int(fs.size(remote))
        except FileNotFoundError:
            raise
        except Exception:
            size = None
        have = os.path.getsize(path) if os.path.exists(path) else 0
        if size is not None and have > size:
            have = 0  # not a prefix of this file: start again
        if size is not None and have == size and have > 0:
            return
        mode = "ab" if have else "wb"
        with fs.open(remote, "rb", block_size=self.chunk_bytes) as source:
            if have:
                try:
                    source.seek(have)
                except Exception:
                    have, mode = 0, "wb"
                    source.seek(0)
            with open(path, mode) as target:
                written = have
                while True:
                    chunk = source.read(self.chunk_bytes)
                    if not chunk:
                        break
                    target.write(chunk)
                    written += len(chunk)
                target.flush()
                os.fsync(target.fileno())
        if size is not None and written != size:
            raise ConnectionError(f"incomplete download of {url}: {written} of {size} bytes")


def _local_path(url: str) -> str | None:
    """The local file path `url` names (a plain path or file://), else None."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return parsed.path
    if not parsed.scheme or (len(parsed.scheme) == 1 and os.name == "nt"):
        return url
    return None


def _is_transient(error: BaseException) -> bool:
    """Whether retrying may help: HTTP 408/425/429/5xx, connection and time-out errors."""
    status = getattr(error, "status", None)
    if isinstance(status, int):
        return status in (408, 425, 429) or status >= 500
    if isinstance(error, PermissionError | IsADirectoryError | NotADirectoryError | ValueError):
        return False
    if isinstance(error, ConnectionError | TimeoutError | OSError):
        return True
    return type(error).__module__.split(".")[0] in ("aiohttp", "asyncio", "botocore", "requests")


class DocumentDownloadStage(ProcessingStage[FileGroupTask, FileGroupTask]):
    """Downloads every URL of its input tasks; outputs tasks listing the local files.

    The URLs of one batch download concurrently, at most `downloader.num_workers_per_node()`
    at a time (one when it returns None), and the stage runs at most that many workers.
    """

    def __init__(self, downloader: DocumentDownloader) -> None:
        self.downloader = downloader
        self._name = f"download_{type(downloader).__name__.lower()}"
        self._resources = Resources(cpus=0.5)
        self._batch_size = 1

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], []

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], []

    def num_workers(self) -> int | None:
        return self.downloader.num_workers_per_node()

    def _download_all(self, urls: list[str]) -> list[str]:
        limit = max(1, self.downloader.num_workers_per_node() or 1)
        if len(urls) <= 1 or limit == 1:
            return [self.downloader.download(url) for url in urls]
        with ThreadPoolExecutor(max_workers=min(limit, len(urls))) as pool:
            return list(pool.map(self.downloader.download, urls))

    def process_batch(self, tasks: list[FileGroupTask]) -> list[FileGroupTask]:
        for task in tasks:
            self.validate_input(task)
        urls = [url for task in tasks for url in task.data]
        try:
            paths = iter(self._download_all(urls))
        except DownloadError as error:
            raise DownloadError(f"stage '{self.name}': {error}") from error
        outputs = []
        for task in tasks:
            local = [next(paths) for _ in task.data]
            outputs.append(task.derive(local, _metadata={**task._metadata, "downloaded_files": local}))
        object.__setattr__(self, "_output_counts", [1] * len(tasks))
        return outputs

    def process(self, task: FileGroupTask) -> FileGroupTask:
        return self.process_batch([task])[0]
