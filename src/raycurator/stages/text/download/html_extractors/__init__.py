"""Main-text extraction algorithms for HTML pages."""

from raycurator.stages.text.download.html_extractors.base import HTMLExtractorAlgorithm
from raycurator.stages.text.download.html_extractors.justext import JusTextExtractor
from raycurator.stages.text.download.html_extractors.resiliparse import ResiliparseExtractor
from raycurator.stages.text.download.html_extractors.trafilatura import TrafilaturaExtractor

__all__ = ["HTMLExtractorAlgorithm", "JusTextExtractor", "ResiliparseExtractor", "TrafilaturaExtractor"]
