"""Alias of `raycurator.stages.text.filters.heuristic` under NeMo Curator's module name."""

from raycurator.stages.text.filters.heuristic import *  # noqa: F403
from raycurator.stages.text.filters.heuristic import __all__  # noqa: F401
