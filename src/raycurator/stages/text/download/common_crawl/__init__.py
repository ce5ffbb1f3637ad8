"""Common Crawl: URL generation, WARC download, WARC iteration and HTML text extraction."""

from raycurator.stages.text.download.common_crawl.download import CommonCrawlWARCDownloader
from raycurator.stages.text.download.common_crawl.extract import CommonCrawlHTMLExtractor
from raycurator.stages.text.download.common_crawl.stage import CommonCrawlDownloadExtractStage
from raycurator.stages.text.download.common_crawl.url_generation import (
    BaseCommonCrawlUrlGenerator,
    MainCommonCrawlUrlGenerator,
    NewsCommonCrawlUrlGenerator,
)
from raycurator.stages.text.download.common_crawl.warc_iterator import CommonCrawlWarcIterator
from raycurator.stages.text.download.common_crawl.warc_reader import WarcReader

__all__ = [
    "BaseCommonCrawlUrlGenerator",
    "CommonCrawlDownloadExtractStage",
    "CommonCrawlHTMLExtractor",
    "CommonCrawlWARCDownloader",
    "CommonCrawlWarcIterator",
    "MainCommonCrawlUrlGenerator",
    "NewsCommonCrawlUrlGenerator",
    "WarcReader",
]
