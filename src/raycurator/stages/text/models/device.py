"""Which device a model stage's worker computes on: CUDA when it asked for a GPU and got one.

A stage asks for a GPU with `Resources(gpus=...)`. On Ray, the actor then holds GPU ids
(`ray.get_gpu_ids()`); the worker uses CUDA only when it holds one and torch sees a CUDA
device, and falls back to the CPU otherwise (saying why), so one pipeline runs on both.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from raycurator.stages.resources import Resources

logger = logging.getLogger(__name__)


class DeviceKind(StrEnum):
    """Where a model runs."""

    CPU = "cpu"
    CUDA = "cuda"


@dataclass(frozen=True)
class DeviceChoice:
    """The device chosen for one worker, the GPUs Ray gave it and why."""

    kind: DeviceKind
    gpu_ids: tuple[str, ...]
    reason: str

    @property
    def torch_device(self) -> str:
        """The torch device string ("cpu" or "cuda")."""
        return self.kind.value


def assigned_gpu_ids() -> tuple[str, ...]:
    """The GPU ids Ray assigned to this worker (empty outside Ray or without GPUs)."""
    try:
        import ray
    except ImportError:
        return ()
    if not ray.is_initialized():
        return ()
    try:
        return tuple(str(g) for g in ray.get_gpu_ids())
    except Exception:  # the driver of a local run, or a Ray without GPU bookkeeping
        return ()


def cuda_available() -> bool:
    """Whether torch sees a usable CUDA device in this process."""
    import torch

    return bool(torch.cuda.is_available())


def choose_device(resources: Resources) -> DeviceChoice:
    """The device for a worker with `resources`: CUDA only when a GPU was asked for, given and usable."""
    if not resources.requires_gpu:
        return DeviceChoice(DeviceKind.CPU, (), "the stage asks for no GPU")
    gpu_ids = assigned_gpu_ids()
    if not gpu_ids:
        return DeviceChoice(DeviceKind.CPU, (), "the stage asks for a GPU but this worker was given none")
    if not cuda_available():
        return DeviceChoice(
            DeviceKind.CPU, gpu_ids, f"Ray gave GPU(s) {list(gpu_ids)} but torch sees no CUDA device; using the CPU"
        )
    return DeviceChoice(DeviceKind.CUDA, gpu_ids, f"using CUDA on GPU(s) {list(gpu_ids)}")


def in_ray_worker() -> bool:
    """Whether this process is a Ray worker (an actor or task), not a driver."""
    try:
        import ray
    except ImportError:
        return False
    if not ray.is_initialized():
        return False
    try:
        return ray.get_runtime_context().worker.mode == ray.WORKER_MODE
    except Exception:
        return False


def limit_cpu_threads(resources: Resources) -> None:
    """In a Ray worker, let torch use as many threads as the stage's CPUs (not every core)."""
    if not in_ray_worker():
        return
    import torch

    torch.set_num_threads(max(1, round(resources.cpus)))
