"""Download and extract: Common Crawl WARC files, Wikipedia dumps and arXiv sources (NeMo Curator's API)."""

from raycurator.stages.text.download.base import (
    DocumentDownloader,
    DocumentDownloadExtractStage,
    DocumentExtractor,
    DocumentIterator,
    URLGenerator,
)
from raycurator.stages.text.download.common_crawl.stage import CommonCrawlDownloadExtractStage
from raycurator.stages.text.download.common_crawl.warc_reader import WarcReader

__all__ = [
    "CommonCrawlDownloadExtractStage",
    "DocumentDownloadExtractStage",
    "DocumentDownloader",
    "DocumentExtractor",
    "DocumentIterator",
    "URLGenerator",
    "WarcReader",
]
