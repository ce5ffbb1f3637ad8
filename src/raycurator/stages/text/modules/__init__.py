"""Document-level modules: ids, scoring, filtering and modifying stages (NeMo Curator layout)."""

from raycurator.stages.text.filters.score_filter import Filter, Score, ScoreFilter
from raycurator.stages.text.modifiers.modify import Modify
from raycurator.stages.text.modules.add_id import AddId

__all__ = ["AddId", "Filter", "Modify", "Score", "ScoreFilter"]
