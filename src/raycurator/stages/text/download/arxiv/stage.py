"""`ArxivDownloadExtractStage`: arXiv source tarballs → paper texts."""

from __future__ import annotations

from typing import Any

from raycurator.stages.text.download.arxiv.download import ArxivDownloader
from raycurator.stages.text.download.arxiv.extract import ArxivExtractor
from raycurator.stages.text.download.arxiv.iterator import ArxivIterator
from raycurator.stages.text.download.arxiv.url_generation import ArxivUrlGenerator
from raycurator.stages.text.download.base.stage import DocumentDownloadExtractStage


class ArxivDownloadExtractStage(DocumentDownloadExtractStage):
    """Downloads arXiv source tarballs (`tar_urls`: local paths or URLs; default: arXiv's S3
    bucket) and extracts each paper's LaTeX body. Output column: `text` (and `file_name`)."""

    def __init__(
        self,
        download_dir: str = "./arxiv_downloads",
        url_limit: int | None = None,
        record_limit: int | None = None,
        add_filename_column: bool | str = True,
        log_frequency: int = 1000,
        verbose: bool = False,
        tar_urls: list[str] | None = None,
        record_timeout_s: float | None = 60.0,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            url_generator=ArxivUrlGenerator(tar_urls, storage_options),
            downloader=ArxivDownloader(download_dir, verbose, storage_options),
            iterator=ArxivIterator(log_frequency=log_frequency),
            extractor=ArxivExtractor(),
            url_limit=url_limit,
            record_limit=record_limit,
            add_filename_column=add_filename_column,
            record_timeout_s=record_timeout_s,
        )
        self._name = "arxiv_pipeline"

    def get_description(self) -> str:
        return "Arxiv pipeline"
