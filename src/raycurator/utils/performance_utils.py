"""NeMo Curator 1.4's `utils.performance_utils` path: the perf statistics live in `raycurator.perf`."""

from raycurator.perf import StagePerfStats, StageTimer

__all__ = ["StagePerfStats", "StageTimer"]
