"""`CommonCrawlDownloadExtractStage`: Common Crawl snapshots → WARC files → extracted text."""

from __future__ import annotations

from typing import Any, Literal

from raycurator.stages.text.download.base.stage import DocumentDownloadExtractStage
from raycurator.stages.text.download.common_crawl.download import CommonCrawlWARCDownloader
from raycurator.stages.text.download.common_crawl.extract import CommonCrawlHTMLExtractor
from raycurator.stages.text.download.common_crawl.url_generation import (
    MainCommonCrawlUrlGenerator,
    NewsCommonCrawlUrlGenerator,
)
from raycurator.stages.text.download.common_crawl.warc_iterator import CommonCrawlWarcIterator
from raycurator.stages.text.download.html_extractors import HTMLExtractorAlgorithm


class CommonCrawlDownloadExtractStage(DocumentDownloadExtractStage):
    """Downloads the WARC files of the main or news crawl between two snapshots and extracts their text.

    Snapshots are `YYYY-WW` (main) or `YYYY-MM` (news). `html_extraction` is `"justext"`
    (default), `"resiliparse"`, `"trafilatura"` or an `HTMLExtractorAlgorithm`;
    `html_extraction_kwargs` its parameters; `stop_lists` replaces the stop lists
    (`{LANGUAGE: frozenset}`). `data_prefix` / `index_prefix` point at Common Crawl or a
    mirror. Output columns: `url`, `warc_id`, `source_id`, `language`, `text` (and `file_name`).
    """

    def __init__(
        self,
        start_snapshot: str,
        end_snapshot: str,
        download_dir: str,
        crawl_type: Literal["main", "news"] = "main",
        html_extraction: HTMLExtractorAlgorithm | str | None = None,
        html_extraction_kwargs: dict[str, Any] | None = None,
        stop_lists: dict[str, frozenset[str]] | None = None,
        use_aws_to_download: bool = False,
        verbose: bool = False,
        url_limit: int | None = None,
        record_limit: int | None = None,
        add_filename_column: bool | str = True,
        extractor_max_calls_per_worker: int | None = None,
        data_prefix: str = "https://data.commoncrawl.org",
        index_prefix: str = "https://index.commoncrawl.org",
        max_content_bytes: int | None = 10_000_000,
        record_timeout_s: float | None = 60.0,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        if crawl_type not in ("main", "news"):
            raise ValueError(f"crawl_type must be 'main' or 'news', got {crawl_type!r}")
        self.crawl_type = crawl_type
        self.start_snapshot = start_snapshot
        self.end_snapshot = end_snapshot
        if crawl_type == "main":
            url_generator: MainCommonCrawlUrlGenerator | NewsCommonCrawlUrlGenerator = MainCommonCrawlUrlGenerator(
                start_snapshot, end_snapshot, data_prefix=data_prefix, limit=url_limit,
                index_prefix=index_prefix, storage_options=storage_options,
            )  # fmt: skip
        else:
            url_generator = NewsCommonCrawlUrlGenerator(
                start_snapshot, end_snapshot, data_prefix=data_prefix, limit=url_limit, storage_options=storage_options
            )
        extractor = CommonCrawlHTMLExtractor(
            algorithm=html_extraction, algorithm_kwargs=html_extraction_kwargs, stop_lists=stop_lists
        )
        super().__init__(
            url_generator=url_generator,
            downloader=CommonCrawlWARCDownloader(
                download_dir=download_dir,
                use_aws_to_download=use_aws_to_download,
                verbose=verbose,
                storage_options=storage_options,
            ),
            iterator=CommonCrawlWarcIterator(max_content_bytes=max_content_bytes),
            extractor=extractor,
            url_limit=url_limit,
            record_limit=record_limit,
            add_filename_column=add_filename_column,
            extractor_max_calls_per_worker=extractor_max_calls_per_worker,
            record_timeout_s=record_timeout_s,
        )
        self._name = f"common_crawl_{crawl_type}_pipeline"

    def get_description(self) -> str:
        return f"Common Crawl {self.crawl_type} pipeline: {self.start_snapshot} to {self.end_snapshot}"
