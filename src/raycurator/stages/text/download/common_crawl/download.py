"""`CommonCrawlWARCDownloader`: WARC files into a local folder, through fsspec."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from raycurator.stages.text.download.base.download import FsspecDownloader


class CommonCrawlWARCDownloader(FsspecDownloader):
    """Downloads WARC files; the local name is the URL's path with `/` replaced by `-`.

    `use_aws_to_download=True` reads `s3://commoncrawl/<path>` instead of the HTTPS URL
    (needs `s3fs` and AWS credentials). Two downloads at a time per worker, as in NeMo Curator.
    """

    def __init__(
        self,
        download_dir: str,
        use_aws_to_download: bool = False,
        verbose: bool = False,
        max_retries: int = 4,
        backoff_s: float = 1.0,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        if use_aws_to_download:
            try:
                import s3fs  # noqa: F401
            except ImportError as error:
                raise RuntimeError("use_aws_to_download=True needs the s3fs package (pip install s3fs)") from error
        super().__init__(
            download_dir,
            verbose,
            max_retries=max_retries,
            backoff_s=backoff_s,
            max_concurrent_downloads=2,
            storage_options=storage_options,
        )
        self.use_aws_to_download = use_aws_to_download

    def _get_output_filename(self, url: str) -> str:
        parsed = urlparse(url)
        path = parsed.path if parsed.scheme else url
        return path.lstrip("/").replace("/", "-")

    def _download_to_path(self, url: str, path: str) -> tuple[bool, str | None]:
        if self.use_aws_to_download:
            url = "s3://commoncrawl/" + urlparse(url).path.lstrip("/")
        return super()._download_to_path(url, path)
