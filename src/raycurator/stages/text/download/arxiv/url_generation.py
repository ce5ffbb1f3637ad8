"""`ArxivUrlGenerator`: the source tarballs of arXiv's requester-pays S3 bucket, or given ones."""

from __future__ import annotations

from typing import Any

from raycurator.stages.text.download.base.url_generation import URLGenerator


class ArxivUrlGenerator(URLGenerator):
    """`tar_urls` when given (local paths, http(s) or s3 URLs), else every `src/*.tar` in `s3://arxiv`.

    Listing the bucket needs `s3fs` and AWS credentials; arXiv's bucket is requester-pays.
    """

    def __init__(self, tar_urls: list[str] | None = None, storage_options: dict[str, Any] | None = None) -> None:
        self.tar_urls = list(tar_urls) if tar_urls else None
        self.storage_options = dict(storage_options or {})

    def generate_urls(self) -> list[str]:
        if self.tar_urls is not None:
            return list(self.tar_urls)
        try:
            import s3fs
        except ImportError as error:
            raise RuntimeError("listing arXiv's S3 bucket needs s3fs (pip install s3fs), or pass tar_urls") from error
        fs = s3fs.S3FileSystem(requester_pays=True, **self.storage_options)
        return sorted("s3://" + path for path in fs.glob("arxiv/src/*.tar"))
