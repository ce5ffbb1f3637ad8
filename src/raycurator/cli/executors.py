"""Choosing and configuring the executor of a pipeline file (`executor:` and the run options)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from raycurator.backends.base import BaseExecutor
from raycurator.cli import classes


@dataclass(frozen=True)
class ExecutorType:
    """An executor the YAML `executor.type` can name."""

    name: str
    description: str
    load: Callable[[], type[BaseExecutor]]
    config_class: Callable[[], type | None]
    options: tuple[str, ...] = ()  # constructor options besides `config`


def _actor_pool() -> type[BaseExecutor]:
    from raycurator.backends.ray_actor_pool import RayActorPoolExecutor

    return RayActorPoolExecutor


def _actor_pool_config() -> type:
    from raycurator.backends.ray_actor_pool.config import ActorPoolConfig

    return ActorPoolConfig


def _ray_data() -> type[BaseExecutor]:
    from raycurator.backends.ray_data import RayDataExecutor

    return RayDataExecutor


def _ray_data_config() -> type:
    from raycurator.backends.ray_data import RayDataConfig

    return RayDataConfig


def _local() -> type[BaseExecutor]:
    from raycurator.backends.local import LocalExecutor

    return LocalExecutor


EXECUTOR_TYPES: dict[str, ExecutorType] = {
    "ray_actor_pool": ExecutorType(
        "ray_actor_pool",
        "pools of Ray actors, streaming between stages (default)",
        _actor_pool,
        _actor_pool_config,
        ("ignore_head_node", "show_progress"),
    ),
    "ray_data": ExecutorType(
        "ray_data", "one streaming Ray Data dataset (no run report yet)", _ray_data, _ray_data_config
    ),
    "local": ExecutorType("local", "every stage in this process, one after the other", _local, lambda: None),
}
DEFAULT_EXECUTOR = "ray_actor_pool"


def config_keys(executor_type: ExecutorType) -> dict[str, classes.ParamInfo]:
    """The config keys an executor type accepts, with their annotations."""
    config_class = executor_type.config_class()
    if config_class is None:
        return {}
    return {p.name: p for p in classes.signature_of(config_class)[0]}


@dataclass
class CliOverrides:
    """Options given on the command line that land in the executor config."""

    address: str | None = None
    checkpoint_dir: str | None = None
    log_dir: str | None = None
    show_progress: bool | None = None
    start_over: bool | None = None
    insecure: bool | None = None
    working_dir: str | None = None  # shipped to every worker (runtime_env working_dir)
