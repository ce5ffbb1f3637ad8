"""`HistogramFilter` under NeMo Curator's module path (`filters.histogram`)."""

from raycurator.stages.text.filters.histogram.histogram import HistogramFilter, available_languages

__all__ = ["HistogramFilter", "available_languages"]
