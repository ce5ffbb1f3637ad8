"""NeMo Curator 1.4's `shuffle_utils.stage.ShuffleStage` path: the CPU hash shuffle of `raycurator.stages.shuffle`.

`ShuffleStage(shuffle_on=[...], total_nparts=N)` works as in NeMo Curator; rows sharing the key
columns meet in one output partition. Backends run it as a map/reduce shuffle (actor pool) or a
barrier (local, Ray Data).
"""

from raycurator.stages.shuffle import ShuffleStage

__all__ = ["ShuffleStage"]
