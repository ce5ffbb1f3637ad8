"""`ArxivDownloader`: source tarballs into a local folder, through fsspec."""

from __future__ import annotations

from typing import Any

from raycurator.stages.text.download.base.download import FsspecDownloader


class ArxivDownloader(FsspecDownloader):
    """Downloads tarballs under their own file name, two at a time per worker.

    `s3://arxiv/...` URLs are read requester-pays (s3fs).
    """

    def __init__(self, download_dir: str, verbose: bool = False, storage_options: dict[str, Any] | None = None) -> None:
        options = dict(storage_options or {})
        super().__init__(download_dir, verbose, max_concurrent_downloads=2, storage_options=options)

    def _filesystem(self, url: str):  # noqa: ANN202
        if url.startswith("s3://"):
            import fsspec

            return fsspec.core.url_to_fs(url, requester_pays=True, **self.storage_options)
        return super()._filesystem(url)
