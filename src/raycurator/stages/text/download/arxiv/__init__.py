"""arXiv: source tarball URLs, download, tarball iteration and LaTeX cleaning."""

from raycurator.stages.text.download.arxiv.download import ArxivDownloader
from raycurator.stages.text.download.arxiv.extract import ArxivExtractor
from raycurator.stages.text.download.arxiv.iterator import ArxivIterator
from raycurator.stages.text.download.arxiv.stage import ArxivDownloadExtractStage
from raycurator.stages.text.download.arxiv.url_generation import ArxivUrlGenerator

__all__ = ["ArxivDownloadExtractStage", "ArxivDownloader", "ArxivExtractor", "ArxivIterator", "ArxivUrlGenerator"]
