"""Cluster capacity as the scheduler sees it: per-node CPU slots and GPUs, and the actors on them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class NodeCapacity:
    """One node: CPUs usable for running batches, GPUs usable by actors."""

    node_id: str
    cpus: float
    gpus: float = 0.0
    cpus_in_use: float = 0.0
    gpus_held: float = 0.0

    @property
    def free_cpus(self) -> float:
        return self.cpus - self.cpus_in_use

    @property
    def free_gpus(self) -> float:
        return self.gpus - self.gpus_held


@dataclass
class ActorState:
    """One stage actor known to the scheduler (by an opaque id)."""

    actor_id: str
    stage_index: int
    node_id: str
    ready: bool = False
    in_flight: list[int] = field(default_factory=list)
    ready_at: float = 0.0
    busy_s: float = 0.0
    replacement: bool = False

    @property
    def idle(self) -> bool:
        return self.ready and not self.in_flight


def fits(node: NodeCapacity, cpus: float, gpus: float) -> bool:
    """Whether one worker asking for `cpus`/`gpus` could ever run on `node`."""
    return node.cpus + 1e-9 >= cpus and node.gpus + 1e-9 >= gpus


def worker_slots(node: NodeCapacity, cpus: float, gpus: float) -> int:
    """How many workers of that size fit on the node at once."""
    counts = []
    if cpus > 0:
        counts.append(int((node.cpus + 1e-9) // cpus))
    if gpus > 0:
        counts.append(int((node.gpus + 1e-9) // gpus))
    return min(counts) if counts else max(1, int(node.cpus))
