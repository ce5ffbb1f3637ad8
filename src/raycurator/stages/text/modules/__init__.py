"""Document-level modules: ids, scoring, filtering, modifying, splitting and joining (NeMo Curator layout)."""

from raycurator.stages.text.filters.score_filter import Filter, Score, ScoreFilter
from raycurator.stages.text.modifiers.modify import Modify
from raycurator.stages.text.modules.add_id import AddId
from raycurator.stages.text.modules.joiner import DocumentJoiner
from raycurator.stages.text.modules.splitter import DocumentSplitter

__all__ = ["AddId", "DocumentJoiner", "DocumentSplitter", "Filter", "Modify", "Score", "ScoreFilter"]
