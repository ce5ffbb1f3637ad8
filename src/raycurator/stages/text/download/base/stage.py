"""`DocumentDownloadExtractStage`: URL generation → download → iterate and extract, as one composite."""

from __future__ import annotations

from raycurator.stages.base import CompositeStage, ProcessingStage
from raycurator.stages.text.download.base.download import DocumentDownloader, DocumentDownloadStage
from raycurator.stages.text.download.base.extract import DocumentExtractor
from raycurator.stages.text.download.base.iterator import DocumentIterateExtractStage, DocumentIterator
from raycurator.stages.text.download.base.url_generation import URLGenerationStage, URLGenerator
from raycurator.tasks import DocumentBatch, Task


class DocumentDownloadExtractStage(CompositeStage[Task, DocumentBatch]):
    """Expands into `URLGenerationStage`, `DocumentDownloadStage` and `DocumentIterateExtractStage`.

    `url_limit` caps the URLs, `record_limit` the rows taken from each file,
    `add_filename_column` adds the source file's name (True: column `file_name`, or the
    column name given), `record_timeout_s` bounds the extraction of one record (skipped and
    counted as `skipped.timeout` when exceeded; None: no limit).
    """

    def __init__(
        self,
        url_generator: URLGenerator,
        downloader: DocumentDownloader,
        iterator: DocumentIterator,
        extractor: DocumentExtractor | None = None,
        url_limit: int | None = None,
        record_limit: int | None = None,
        add_filename_column: bool | str = True,
        extractor_max_calls_per_worker: int | None = None,
        record_timeout_s: float | None = 60.0,
    ) -> None:
        self.url_generator = url_generator
        self.downloader = downloader
        self.iterator = iterator
        self.extractor = extractor
        self.url_limit = url_limit
        self.record_limit = record_limit
        self.add_filename_column = add_filename_column
        self.extractor_max_calls_per_worker = extractor_max_calls_per_worker
        self.record_timeout_s = record_timeout_s
        self.stages = self._build_stages()
        self._name = (
            f"document_download_extract_{type(url_generator).__name__.lower()}_"
            f"{type(downloader).__name__.lower()}_composite"
        )

    def _build_stages(self) -> list[ProcessingStage]:
        return [
            URLGenerationStage(url_generator=self.url_generator, limit=self.url_limit),
            DocumentDownloadStage(downloader=self.downloader),
            DocumentIterateExtractStage(
                iterator=self.iterator,
                extractor=self.extractor,
                record_limit=self.record_limit,
                add_filename_column=self.add_filename_column,
                max_calls_per_worker=self.extractor_max_calls_per_worker,
                record_timeout_s=self.record_timeout_s,
            ),
        ]

    def decompose(self) -> list[ProcessingStage]:
        return list(self.stages)

    def get_description(self) -> str:
        """One line saying what the composite does."""
        return (
            f"URL generation, download, iterate and extract with {type(self.url_generator).__name__} "
            f"and {type(self.downloader).__name__}"
        )
