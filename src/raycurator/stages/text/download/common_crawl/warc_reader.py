"""`WarcReader`: WARC files you already have → extracted text (no URL generation, no download)."""

from __future__ import annotations

from typing import Any

from raycurator.stages.base import CompositeStage, ProcessingStage
from raycurator.stages.file_partitioning import FilePartitioningStage
from raycurator.stages.text.download.base.iterator import DocumentIterateExtractStage
from raycurator.stages.text.download.common_crawl.extract import CommonCrawlHTMLExtractor
from raycurator.stages.text.download.common_crawl.warc_iterator import CommonCrawlWarcIterator
from raycurator.stages.text.download.html_extractors import HTMLExtractorAlgorithm
from raycurator.tasks import DocumentBatch, Task


class WarcReader(CompositeStage[Task, DocumentBatch]):
    """Lists WARC files (local or any fsspec URL) and extracts their HTML responses' main text.

    Expands into `FilePartitioningStage` and `DocumentIterateExtractStage` with
    `CommonCrawlWarcIterator` and `CommonCrawlHTMLExtractor`; the parameters are those of
    `CommonCrawlDownloadExtractStage` for extraction, and of the readers for listing files.
    Output columns: `url`, `warc_id`, `source_id`, `language`, `text` (and `file_name`).
    """

    def __init__(
        self,
        file_paths: str | list[str],
        files_per_partition: int | None = None,
        html_extraction: HTMLExtractorAlgorithm | str | None = None,
        html_extraction_kwargs: dict[str, Any] | None = None,
        stop_lists: dict[str, frozenset[str]] | None = None,
        record_limit: int | None = None,
        add_filename_column: bool | str = True,
        file_extensions: list[str] | None = None,
        max_content_bytes: int | None = 10_000_000,
        record_timeout_s: float | None = 60.0,
        storage_options: dict[str, Any] | None = None,
        limit: int | None = None,
    ) -> None:
        self.file_paths = file_paths
        self.files_per_partition = files_per_partition
        self.file_extensions = list(file_extensions) if file_extensions else [".warc", ".warc.gz"]
        self.storage_options = dict(storage_options or {})
        self.limit = limit
        self.iterate_extract = DocumentIterateExtractStage(
            iterator=CommonCrawlWarcIterator(storage_options=storage_options, max_content_bytes=max_content_bytes),
            extractor=CommonCrawlHTMLExtractor(html_extraction, html_extraction_kwargs, stop_lists),
            record_limit=record_limit,
            add_filename_column=add_filename_column,
            record_timeout_s=record_timeout_s,
        )
        self._name = "warc_reader"

    def decompose(self) -> list[ProcessingStage]:
        return [
            FilePartitioningStage(
                file_paths=self.file_paths,
                files_per_partition=self.files_per_partition,
                file_extensions=self.file_extensions,
                storage_options=self.storage_options,
                limit=self.limit,
            ),
            self.iterate_extract,
        ]
