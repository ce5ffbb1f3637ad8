"""Configuration of the Ray Data executor (the `config` dict, validated)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from raycurator.errors import PipelineConfigError

REPARTITION_MODES = ("auto", "always", "never")


@dataclass
class RayDataConfig:
    """Every key `RayDataExecutor`'s `config` dict accepts.

    - `address`: Ray cluster to connect to (else `RAY_ADDRESS`, else an embedded local Ray).
    - `runtime_env`: Ray runtime environment for the run's workers.
    - `num_cpus` / `ray_init_kwargs`: passed to `ray.init` when an embedded Ray is started.
    - `repartition`: when to re-split a stage's outputs into one task per block, so the next
      stage gets them in parallel: "auto" (default; see `plan.needs_split`), "always", "never".
    - `preserve_order`: keep Ray Data's output order deterministic (slower; default False).
    - `max_actors_per_stage`: upper bound on the actor pool of any actor stage (default: as many
      as the cluster's CPUs/GPUs fit, or the stage's `num_workers()`).
    - `show_progress`: Ray Data's progress bars (default False).
    - `stall_timeout_s`: stop the run with an error naming the stages and resources when no
      stage has run or finished anything for this many seconds (default 600; None: never).
      Stages signal progress while they set up and while a batch runs, so slow work is not a stall.
    - `fit_to_cluster`: scale the stages' CPU requests down when one actor of every pool plus a
      task would not fit the cluster (default True; see `plan.fit_to_cluster`).
    - `source_on_driver`: run a cheap source stage (e.g. `FilePartitioningStage`) on the driver
      (default True; see `plan.runs_on_driver`).
    """

    address: str | None = None
    runtime_env: dict[str, Any] | None = None
    num_cpus: int | None = None
    ray_init_kwargs: dict[str, Any] = field(default_factory=dict)
    repartition: str = "auto"
    preserve_order: bool = False
    max_actors_per_stage: int | None = None
    show_progress: bool = False
    stall_timeout_s: float | None = 600.0
    fit_to_cluster: bool = True
    source_on_driver: bool = True

    @classmethod
    def from_dict(cls, config: dict[str, Any] | None) -> RayDataConfig:
        """Validate `config`; unknown keys and bad values raise `PipelineConfigError`."""
        config = dict(config or {})
        valid = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(config) - valid)
        if unknown:
            raise PipelineConfigError(f"unknown RayDataExecutor config key(s) {unknown}; valid keys: {sorted(valid)}")
        parsed = cls(**config)
        parsed.validate()
        return parsed

    def validate(self) -> None:
        """Raise `PipelineConfigError` on a bad value."""
        if self.repartition not in REPARTITION_MODES:
            raise PipelineConfigError(
                f"RayDataExecutor config 'repartition' must be one of {REPARTITION_MODES}, got {self.repartition!r}"
            )
        if self.max_actors_per_stage is not None and (
            not isinstance(self.max_actors_per_stage, int)
            or isinstance(self.max_actors_per_stage, bool)
            or self.max_actors_per_stage < 1
        ):
            raise PipelineConfigError(
                "RayDataExecutor config 'max_actors_per_stage' must be a positive int, "
                f"got {self.max_actors_per_stage!r}"
            )
        if self.num_cpus is not None and (not isinstance(self.num_cpus, int) or self.num_cpus < 1):
            raise PipelineConfigError(
                f"RayDataExecutor config 'num_cpus' must be a positive int, got {self.num_cpus!r}"
            )
        if self.stall_timeout_s is not None and (
            not isinstance(self.stall_timeout_s, int | float)
            or isinstance(self.stall_timeout_s, bool)
            or self.stall_timeout_s <= 0
        ):
            raise PipelineConfigError(
                "RayDataExecutor config 'stall_timeout_s' must be a positive number or None, "
                f"got {self.stall_timeout_s!r}"
            )
        if self.runtime_env is not None and not isinstance(self.runtime_env, dict):
            raise PipelineConfigError(
                f"RayDataExecutor config 'runtime_env' must be a dict, got {type(self.runtime_env).__name__}"
            )
        if not isinstance(self.ray_init_kwargs, dict):
            raise PipelineConfigError(
                f"RayDataExecutor config 'ray_init_kwargs' must be a dict, got {type(self.ray_init_kwargs).__name__}"
            )
