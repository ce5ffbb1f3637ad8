"""Download and extract: Common Crawl WARC files, Wikipedia dumps and arXiv sources (NeMo Curator's API)."""

from raycurator.stages.text.download.arxiv.stage import ArxivDownloadExtractStage
from raycurator.stages.text.download.base import (
    DocumentDownloader,
    DocumentDownloadExtractStage,
    DocumentExtractor,
    DocumentIterator,
    URLGenerator,
)
from raycurator.stages.text.download.common_crawl.stage import CommonCrawlDownloadExtractStage
from raycurator.stages.text.download.common_crawl.warc_reader import WarcReader
from raycurator.stages.text.download.wikipedia.stage import WikipediaDownloadExtractStage

__all__ = [
    "ArxivDownloadExtractStage",
    "CommonCrawlDownloadExtractStage",
    "DocumentDownloadExtractStage",
    "DocumentDownloader",
    "DocumentExtractor",
    "DocumentIterator",
    "URLGenerator",
    "WarcReader",
    "WikipediaDownloadExtractStage",
]
