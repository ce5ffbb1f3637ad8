"""The download-and-extract framework: URL generators, downloaders, iterators, extractors."""

from raycurator.stages.text.download.base.download import (
    DocumentDownloader,
    DocumentDownloadStage,
    DownloadError,
    FsspecDownloader,
)
from raycurator.stages.text.download.base.extract import DocumentExtractor
from raycurator.stages.text.download.base.iterator import DocumentIterateExtractStage, DocumentIterator
from raycurator.stages.text.download.base.skips import SkipReason
from raycurator.stages.text.download.base.stage import DocumentDownloadExtractStage
from raycurator.stages.text.download.base.time_limit import RecordTimeoutError
from raycurator.stages.text.download.base.url_generation import StaticUrlGenerator, URLGenerationStage, URLGenerator

__all__ = [
    "DocumentDownloadExtractStage",
    "DocumentDownloadStage",
    "DocumentDownloader",
    "DocumentExtractor",
    "DocumentIterateExtractStage",
    "DocumentIterator",
    "DownloadError",
    "FsspecDownloader",
    "RecordTimeoutError",
    "SkipReason",
    "StaticUrlGenerator",
    "URLGenerationStage",
    "URLGenerator",
]
