"""Corpus statistics: `CorpusStatistics` and the histogram metrics it records."""

from raycurator.stages.text.statistics.corpus_statistics import CorpusStatistics
from raycurator.stages.text.statistics.histogram import (
    Bucket,
    HistogramSpec,
    categories_from_metrics,
    histograms_from_metrics,
)

__all__ = ["Bucket", "CorpusStatistics", "HistogramSpec", "categories_from_metrics", "histograms_from_metrics"]
