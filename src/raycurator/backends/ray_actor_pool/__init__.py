"""The Ray actor-pool backend: stages run in pools of Ray actors, streaming by default."""

from raycurator.backends.ray_actor_pool.adapter import (
    RayActorPoolStageAdapter,
    ShuffleStageAdapter,
    get_worker_metadata_and_node_id,
)
from raycurator.backends.ray_actor_pool.executor import RayActorPoolExecutor

__all__ = [
    "RayActorPoolExecutor",
    "RayActorPoolStageAdapter",
    "ShuffleStageAdapter",
    "get_worker_metadata_and_node_id",
]
