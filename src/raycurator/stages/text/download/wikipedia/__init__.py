"""Wikipedia: dump URL generation, download, XML iteration and wikitext extraction."""

from raycurator.stages.text.download.wikipedia.download import WikipediaDownloader
from raycurator.stages.text.download.wikipedia.extract import WikipediaExtractor
from raycurator.stages.text.download.wikipedia.iterator import WikipediaIterator
from raycurator.stages.text.download.wikipedia.stage import WikipediaDownloadExtractStage
from raycurator.stages.text.download.wikipedia.url_generation import WikipediaUrlGenerator

__all__ = [
    "WikipediaDownloadExtractStage",
    "WikipediaDownloader",
    "WikipediaExtractor",
    "WikipediaIterator",
    "WikipediaUrlGenerator",
]
