"""The Ray actor-pool backend: stages run in pools of Ray actors, streaming by default.

Names are imported on first use, so an actor (which needs only the adapter) does not pay for
importing the driver-side executor at start-up.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from raycurator.backends.ray_actor_pool.adapter import (
        RayActorPoolStageAdapter,
        ShuffleStageAdapter,
        get_worker_metadata_and_node_id,
    )
    from raycurator.backends.ray_actor_pool.executor import RayActorPoolExecutor

_WHERE = {
    "RayActorPoolExecutor": "raycurator.backends.ray_actor_pool.executor",
    "RayActorPoolStageAdapter": "raycurator.backends.ray_actor_pool.adapter",
    "ShuffleStageAdapter": "raycurator.backends.ray_actor_pool.adapter",
    "get_worker_metadata_and_node_id": "raycurator.backends.ray_actor_pool.adapter",
}

__all__ = [
    "RayActorPoolExecutor",
    "RayActorPoolStageAdapter",
    "ShuffleStageAdapter",
    "get_worker_metadata_and_node_id",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
