"""`WikipediaDownloader`: dump files (`.xml.bz2`) into a local folder, through fsspec."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from raycurator.stages.text.download.base.download import FsspecDownloader


class WikipediaDownloader(FsspecDownloader):
    """Downloads dump files, named after their URL path (`/` → `-`), two at a time per worker."""

    def __init__(self, download_dir: str, verbose: bool = False, storage_options: dict[str, Any] | None = None) -> None:
        super().__init__(download_dir, verbose, max_concurrent_downloads=2, storage_options=storage_options)

    def _get_output_filename(self, url: str) -> str:
        return urlparse(url).path.lstrip("/").replace("/", "-")
