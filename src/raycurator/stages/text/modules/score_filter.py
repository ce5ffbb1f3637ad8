"""`Score`, `Filter` and `ScoreFilter` under NeMo Curator's module name."""

from raycurator.stages.text.filters.score_filter import Filter, Score, ScoreFilter

__all__ = ["Filter", "Score", "ScoreFilter"]
