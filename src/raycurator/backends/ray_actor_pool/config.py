"""Configuration of the actor-pool executor (the `config` dict, validated)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from raycurator.errors import PipelineConfigError

MODES = ("streaming", "stage_by_stage")
ON_ERROR = ("raise", "skip")


@dataclass
class ActorPoolConfig:
    """Every key the executor's `config` dict accepts.

    - `address`: Ray cluster to connect to (else `RAY_ADDRESS`, else an embedded local Ray).
    - `mode`: "streaming" (default; stages overlap) or "stage_by_stage".
    - `reserved_cpus` / `reserved_gpus`: held back from the pools (taken from the head node first).
    - `max_task_retries`: resubmissions of a batch whose actor died.
    - `on_error`: "raise" or "skip" (failed inputs go to the failure ledger); `stage_on_error`
      overrides it per stage name.
    - `return_results`: collect the last stage's outputs into `execute()`'s return value.
    - `log_dir`: where each run writes `report.json` and `failures.jsonl` (a sub-folder per run).
    - `queue_limit_items` / `queue_limit_bytes`: backpressure limits per stage input queue.
    - `pipeline_depth`: calls queued per actor for stages whose batches are short.
    - `fuse_stages`: in streaming mode, run consecutive map stages with the same resources and
      error policy in one actor (fewer actors, no object-store trip between them).
    - `checkpoint_dir`: record finished source partitions there and skip them on a rerun;
      `checkpoint_start_over` discards an existing checkpoint instead of resuming from it.
    - `connect_timeout_s`: how long to wait for a cluster at `address` to answer (default 60 s).
    - `allow_insecure_ray`: run on a cluster reachable off this machine although Ray's
      authentication is disabled (`RAY_AUTH_MODE=disabled`); refused otherwise.
    - `source_on_driver`: run a first stage that only lists inputs (file or URL partitioning) in
      the driver while Ray starts, not on an actor (default True; turn off when the driver cannot
      see the inputs that the workers can).
    - `stall_timeout_s`: stop the run with a `PipelineStalledError` naming the stages and
      resources when no call returned for this many seconds (default None: never). A call counts
      only when it returns: set it above the longest batch. Time in which actors start (their
      runtime_env, `setup`) does not count.
    """

    address: str | None = None
    runtime_env: dict[str, Any] | None = None
    mode: str = "streaming"
    reserved_cpus: float = 0.0
    reserved_gpus: float = 0.0
    max_task_retries: int = 3
    on_error: str = "raise"
    stage_on_error: dict[str, str] = field(default_factory=dict)
    return_results: bool = True
    log_dir: str | None = None
    queue_limit_items: int = 0
    queue_limit_bytes: int = 1 << 30
    pipeline_depth: int = 2
    num_cpus: int | None = None
    ray_init_kwargs: dict[str, Any] = field(default_factory=dict)
    progress_interval_s: float = 10.0
    fuse_stages: bool = True
    checkpoint_dir: str | None = None
    checkpoint_start_over: bool = False
    teardown_timeout_s: float = 30.0
    connect_timeout_s: float = 60.0
    allow_insecure_ray: bool = False
    source_on_driver: bool = True
    stall_timeout_s: float | None = None

    @classmethod
    def from_dict(cls, config: dict[str, Any] | None) -> ActorPoolConfig:
        """Validate `config`; unknown keys and bad values raise `PipelineConfigError`."""
        config = dict(config or {})
        valid = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(config) - valid)
        if unknown:
            raise PipelineConfigError(
                f"unknown RayActorPoolExecutor config key(s) {unknown}; valid keys: {sorted(valid)}"
            )
        parsed = cls(**config)
        parsed.validate()
        return parsed

    def validate(self) -> None:
        if self.mode not in MODES:
            raise PipelineConfigError(f"config 'mode' must be one of {MODES}, got {self.mode!r}")
        for name, value in [("on_error", self.on_error), *self.stage_on_error.items()]:
            if value not in ON_ERROR:
                raise PipelineConfigError(f"on_error for {name!r} must be one of {ON_ERROR}, got {value!r}")
        for name in ("reserved_cpus", "reserved_gpus", "max_task_retries", "queue_limit_items", "queue_limit_bytes"):
            if getattr(self, name) < 0:
                raise PipelineConfigError(f"config '{name}' must not be negative, got {getattr(self, name)!r}")
        if self.connect_timeout_s <= 0:
            raise PipelineConfigError(f"config 'connect_timeout_s' must be > 0, got {self.connect_timeout_s!r}")
        stall = self.stall_timeout_s
        if stall is not None and (isinstance(stall, bool) or not isinstance(stall, int | float) or stall <= 0):
            raise PipelineConfigError(f"config 'stall_timeout_s' must be a positive number or None, got {stall!r}")
        if self.pipeline_depth < 1:
            raise PipelineConfigError(f"config 'pipeline_depth' must be >= 1, got {self.pipeline_depth!r}")
