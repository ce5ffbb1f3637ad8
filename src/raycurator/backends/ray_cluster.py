"""Connecting to Ray and looking at the cluster: shared by the Ray backends.

With an address (argument, config `address`, or `RAY_ADDRESS`) we connect to that cluster and
never shut it down. Otherwise an already initialised Ray in this process is used as is; else
an embedded local Ray is started (127.0.0.1, dashboard off) and shut down afterwards.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from raycurator.backends.base import BaseStageAdapter, NodeInfo, WorkerMetadata
from raycurator.stages.base import ProcessingStage

logger = logging.getLogger(__name__)


class RayConnection:
    """Context manager: connect (or start) Ray for one run, and clean up what we started."""

    def __init__(
        self,
        address: str | None = None,
        runtime_env: dict[str, Any] | None = None,
        num_cpus: int | None = None,
        init_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.runtime_env = runtime_env
        self.num_cpus = num_cpus
        self.init_kwargs = dict(init_kwargs or {})
        self.started_here = False

    def __enter__(self) -> RayConnection:
        if self.address:
            if ray.is_initialized():
                logger.info("Ray already initialised in this process; using it (address %s ignored)", self.address)
            else:
                logger.info("connecting to the Ray cluster at %s", self.address)
                ray.init(address=self.address, runtime_env=self.runtime_env, **self.init_kwargs)
                self.started_here = False
                self._connected_here = True
                return self
        elif ray.is_initialized():
            logger.debug("using the Ray already initialised in this process")
        else:
            logger.info("starting an embedded local Ray (127.0.0.1, dashboard off)")
            kwargs: dict[str, Any] = {
                "include_dashboard": False,
                "_node_ip_address": "127.0.0.1",
                "runtime_env": self.runtime_env,
                "num_cpus": self.num_cpus,
            }
            kwargs.update(self.init_kwargs)
            ray.init(address="local", **kwargs)
            self.started_here = True
        self._connected_here = False
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.started_here or getattr(self, "_connected_here", False):
            ray.shutdown()


@dataclass(frozen=True)
class ClusterNode:
    """An alive node and its total resources."""

    node_id: str
    cpus: float
    gpus: float
    is_head: bool


def alive_nodes(ignore_head_node: bool = False) -> list[ClusterNode]:
    """The alive nodes of the connected cluster (without the head node when asked)."""
    nodes = []
    for node in ray.nodes():
        if not node.get("Alive"):
            continue
        resources = node.get("Resources", {})
        is_head = "node:__internal_head__" in resources
        if ignore_head_node and is_head:
            continue
        nodes.append(
            ClusterNode(node["NodeID"], float(resources.get("CPU", 0)), float(resources.get("GPU", 0)), is_head)
        )
    return sorted(nodes, key=lambda n: (not n.is_head, n.node_id))


def pinned(node_id: str) -> NodeAffinitySchedulingStrategy:
    """A scheduling strategy that runs on `node_id` only."""
    return NodeAffinitySchedulingStrategy(node_id=node_id, soft=False)


@ray.remote
def _setup_on_node_remote(stage: ProcessingStage, node_id: str) -> str:
    context = ray.get_runtime_context()
    BaseStageAdapter(stage).setup_on_node(NodeInfo(node_id=node_id), WorkerMetadata(worker_id=context.get_worker_id()))
    return context.get_node_id()


def run_setup_on_nodes(stages: list[ProcessingStage], nodes: list[ClusterNode]) -> None:
    """Run every stage's `setup_on_node` once on every node that can host it, pinned there, with its resources."""
    calls = []
    for stage in stages:
        if type(stage).setup_on_node is ProcessingStage.setup_on_node:
            continue  # nothing to run: spare a worker process per node
        resources = stage.resources
        gpus = ray_gpus(stage)
        for node in nodes:
            if node.cpus + 1e-9 < resources.cpus or node.gpus + 1e-9 < gpus:
                continue  # no worker of this stage can run here
            options = {
                "num_cpus": min(resources.cpus, node.cpus),
                "num_gpus": gpus,
                "scheduling_strategy": pinned(node.node_id),
                "max_retries": 0,
            }
            calls.append((stage, node, _setup_on_node_remote.options(**options).remote(stage, node.node_id)))
    for stage, node, ref in calls:
        try:
            ray.get(ref)
        except ray.exceptions.RayTaskError as error:
            cause = error.cause if getattr(error, "cause", None) is not None else error
            raise RuntimeError(
                f"stage '{stage.name}': setup_on_node failed on node {node.node_id}: {type(cause).__name__}: {cause}"
            ) from error


def ray_gpus(stage: ProcessingStage) -> float:
    """GPUs to ask Ray for, per worker of `stage` (fractions allowed)."""
    resources = stage.resources
    if resources.gpus:
        return float(resources.gpus)
    if resources.entire_gpu:
        return 1.0
    if resources.gpu_memory_gb:
        raise ValueError(
            f"stage '{stage.name}' asks for gpu_memory_gb={resources.gpu_memory_gb}; the actor-pool backend "
            "needs a GPU count: use Resources(gpus=fraction) instead"
        )
    return 0.0
