"""The stage API: `ProcessingStage` and `CompositeStage`.

A stage may declare its name, resources and batch size in either style users write today:
seed-era private attributes (`_name = "x"`, `_resources`, `_batch_size`, on the class or set
in `__init__`) or plain class attributes / dataclass fields (`name = "x"`, ...). The
properties below read whichever is present, and `with_` writes back the same way.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import inspect
import time
import typing
from abc import ABCMeta, abstractmethod
from collections.abc import Callable, Iterator
from enum import StrEnum
from types import UnionType
from typing import Any, Generic, TypeVar

from raycurator.errors import PipelineConfigError, SkippedRecord, StageInputError
from raycurator.stages.registry import get_stage_class, register_stage_class
from raycurator.stages.resources import Resources
from raycurator.tasks import FailedTask, NoneTask, Task

X = TypeVar("X", bound=Task)
Y = TypeVar("Y", bound=Task)

_DEFAULT_RESOURCES = Resources()

__all__ = [
    "CompositeStage",
    "ProcessingStage",
    "RayStageSpecKeys",
    "StageMeta",
    "TaskFailedError",
    "get_stage_class",
]


class _Unset:
    """Marks a `with_` argument that was not given (None is a meaningful value there)."""

    def __repr__(self) -> str:
        return "<unset>"


_UNSET: Any = _Unset()


class TaskFailedError(RuntimeError):
    """A stage returned `FailedTask` for an input: the input failed (it was not filtered)."""


def _constant(value: Any) -> Callable[[], Any]:
    """A zero-argument function returning `value` (a per-instance override of a spec method)."""

    def get() -> Any:
        return copy.copy(value)

    return get


class RayStageSpecKeys(StrEnum):
    """Keys a stage may return from `ray_stage_spec()` to tell backends how to run it."""

    IS_ACTOR_STAGE = "is_actor_stage"
    IS_FANOUT_STAGE = "is_fanout_stage"
    IS_BARRIER = "is_barrier"
    ON_ERROR = "on_error"
    MAX_TASK_RETRIES = "max_task_retries"
    # a source stage cheap enough for the driver (file listing): the actor-pool executor runs it
    # there, while Ray starts, instead of starting a worker process for it
    RUNS_ON_DRIVER = "runs_on_driver"


class StageMeta(ABCMeta):
    """Registers every concrete stage class by name."""

    def __init__(cls, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(name, bases, namespace, **kwargs)
        if not inspect.isabstract(cls) and not namespace.get("_is_abstract_root", False):
            register_stage_class(cls)


def _assign(obj: object, attr: str, value: Any) -> None:
    try:
        setattr(obj, attr, value)
    except dataclasses.FrozenInstanceError:
        object.__setattr__(obj, attr, value)


class ProcessingStage(Generic[X, Y], metaclass=StageMeta):
    """One step of a pipeline: turns an input task into zero, one or many output tasks."""

    _is_abstract_root = True

    # -- declared attributes, read in both styles -------------------------------------------
    @property
    def name(self) -> str:
        """The stage's name (defaults to its class name)."""
        return getattr(self, "_name", None) or type(self).__name__

    @name.setter
    def name(self, value: str) -> None:
        object.__setattr__(self, "_name", value)  # also works on frozen dataclass stages

    @property
    def resources(self) -> Resources:
        """What one worker of this stage needs."""
        value = getattr(self, "_resources", None)
        return value if value is not None else _DEFAULT_RESOURCES

    @resources.setter
    def resources(self, value: Resources) -> None:
        object.__setattr__(self, "_resources", value)

    @property
    def batch_size(self) -> int | None:
        """How many tasks one `process_batch` call receives (None: the backend's default, 1)."""
        return getattr(self, "_batch_size", 1)

    @batch_size.setter
    def batch_size(self, value: int | None) -> None:
        object.__setattr__(self, "_batch_size", value)

    # -- processing ---------------------------------------------------------------------------
    @abstractmethod
    def process(self, task: X) -> Y | list[Y] | None:
        """Process one task: return a task, a list of tasks (1→N), or None (filtered out)."""

    def process_batch(self, tasks: list[X]) -> list[Y]:
        """Process a batch: validate each input, call `process`, flatten lists, drop None."""
        outputs: list[Y] = []
        counts: list[int] = []
        for task in tasks:
            self.validate_input(task)
            result = self.process(task)
            results = result if isinstance(result, list) else [result]
            if any(isinstance(r, FailedTask) for r in results):
                raise TaskFailedError(f"stage '{self.name}' returned FailedTask for task '{task.task_id}'")
            kept = [r for r in results if r is not None and not isinstance(r, NoneTask)]
            outputs.extend(kept)
            counts.append(len(kept))
        object.__setattr__(self, "_output_counts", counts)
        return outputs

    # -- life cycle ---------------------------------------------------------------------------
    def setup_on_node(self, node_info: Any = None, worker_metadata: Any = None) -> None:
        """Run once per node before any worker starts (downloads, caches)."""

    def setup(self, worker_metadata: Any = None) -> None:
        """Run once per worker before it processes anything (load models, open clients)."""

    def teardown(self) -> None:
        """Run once per worker after its last batch."""

    def num_workers(self) -> int | None:
        """Upper bound on the number of workers of this stage (None: no bound)."""
        return None

    def num_workers_per_node(self) -> float | None:
        """Workers wanted per node (None: the executor decides); see docs/compat.md."""
        return None

    def supports_batch_processing(self) -> bool:
        """Whether the stage overrides `process_batch` with a vectorised version."""
        return type(self).process_batch is not ProcessingStage.process_batch

    def is_fanout_stage(self) -> bool:
        """Whether `process` is annotated to return a list (one input can give many outputs)."""
        try:
            hints = typing.get_type_hints(type(self).process)
        except Exception:  # unresolvable annotations: assume no fan-out
            return False
        return _mentions_list(hints.get("return"))

    def xenna_stage_spec(self) -> dict[str, Any]:
        """Hints for NeMo Curator's Xenna backend; kept for compatibility, not used here."""
        return {}

    @property
    def runtime_env(self) -> dict[str, Any] | None:
        """A Ray runtime environment for this stage's workers (None: the executor's)."""
        return getattr(self, "_runtime_env", None)

    @runtime_env.setter
    def runtime_env(self, value: dict[str, Any] | None) -> None:
        object.__setattr__(self, "_runtime_env", value)

    def get_config(self) -> dict[str, Any]:
        """Name, resources, batch size and whether the stage processes batches itself."""
        return {
            "name": self.name,
            "resources": self.resources,
            "batch_size": self.batch_size,
            "supports_batch_processing": self.supports_batch_processing(),
        }

    # -- declared inputs and outputs ------------------------------------------------------------
    def inputs(self) -> tuple[list[str], list[str]]:
        """(task attributes, data columns) this stage needs on its input tasks."""
        return [], []

    def outputs(self) -> tuple[list[str], list[str]]:
        """(task attributes, data columns) this stage guarantees on its output tasks."""
        return [], []

    def validate_input(self, task: Task) -> bool:
        """Check `task` has what `inputs()` declares; raise `StageInputError` naming what is missing."""
        attrs, columns = self.inputs()
        missing_attrs = [a for a in attrs if not hasattr(task, a)]
        if missing_attrs:
            raise StageInputError(
                f"stage '{self.name}': task '{task.task_id}' ({type(task).__name__}) lacks attribute(s) "
                f"{missing_attrs}{_files_hint(task)}"
            )
        if columns:
            get_columns = getattr(task, "get_columns", None)
            if get_columns is None:
                raise StageInputError(
                    f"stage '{self.name}' needs columns {columns} but task '{task.task_id}' is a "
                    f"{type(task).__name__}, which has no columns{_files_hint(task)}"
                )
            present = set(get_columns())
            missing = [c for c in columns if c not in present]
            if missing:
                raise StageInputError(
                    f"stage '{self.name}': task '{task.task_id}' lacks column(s) {missing}; "
                    f"it has {sorted(present)}{_files_hint(task)}"
                )
        return True

    # -- configuration ----------------------------------------------------------------------------
    def with_(
        self,
        name: str | None = None,
        resources: Resources | None = None,
        batch_size: int | None = None,
        runtime_env: dict[str, Any] | None = None,
        ray_stage_spec: dict[str, Any] | None = None,
        xenna_stage_spec: dict[str, Any] | None = None,
        num_workers: int | None = _UNSET,
        num_workers_per_node: float | None = _UNSET,
    ) -> ProcessingStage[X, Y]:
        """A configured copy of this stage; the original is left unchanged.

        `ray_stage_spec` / `xenna_stage_spec` are merged over the stage's own (given keys win);
        `num_workers` / `num_workers_per_node` replace what the methods return (None resets to
        the executor's choice). At most one of the two worker-count options may be set.
        """
        if resources is not None and not isinstance(resources, Resources):
            raise TypeError(f"stage '{self.name}': resources must be a Resources, got {type(resources).__name__}")
        if batch_size is not None and (
            not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1
        ):
            raise PipelineConfigError(f"stage '{self.name}': batch_size must be a positive int, got {batch_size!r}")
        if num_workers is not _UNSET and num_workers is not None and (
            not isinstance(num_workers, int) or isinstance(num_workers, bool) or num_workers < 1
        ):
            raise PipelineConfigError(f"stage '{self.name}': num_workers must be a positive int, got {num_workers!r}")
        if xenna_stage_spec is not None and "num_workers" in xenna_stage_spec:
            raise PipelineConfigError(
                f"stage '{self.name}': pass with_(num_workers=...) instead of num_workers in xenna_stage_spec"
            )
        clone = copy.deepcopy(self)
        for attr, value in (
            ("name", name),
            ("resources", resources),
            ("batch_size", batch_size),
            ("runtime_env", runtime_env),
        ):
            if value is not None:
                _assign(clone, attr, value)
        if ray_stage_spec is not None:
            object.__setattr__(clone, "ray_stage_spec", _constant({**clone.ray_stage_spec(), **ray_stage_spec}))
        if xenna_stage_spec is not None:
            merged = {**clone.xenna_stage_spec(), **xenna_stage_spec}
            object.__setattr__(clone, "xenna_stage_spec", _constant(merged))
        if num_workers is not _UNSET:
            object.__setattr__(clone, "num_workers", _constant(num_workers))
        if num_workers_per_node is not _UNSET:
            object.__setattr__(clone, "num_workers_per_node", _constant(num_workers_per_node))
        if clone.num_workers() is not None and clone.num_workers_per_node() is not None:
            raise PipelineConfigError(
                f"stage '{self.name}': set num_workers or num_workers_per_node, not both"
            )
        return clone

    def ray_stage_spec(self) -> dict[str, Any]:
        """Hints for Ray backends (keys from `RayStageSpecKeys`)."""
        return {}

    @property
    def is_barrier(self) -> bool:
        """Whether the stage needs all of its inputs in a single `process_batch` call."""
        return bool(self.ray_stage_spec().get(RayStageSpecKeys.IS_BARRIER, False))

    # -- custom metrics -----------------------------------------------------------------------------
    def _log_metrics(self, metrics: dict[str, float]) -> None:
        """Record custom numeric metrics for the current batch (summed when logged twice)."""
        store: dict[str, float] = self.__dict__.setdefault("_custom_metrics", {})
        for key, value in metrics.items():
            store[key] = store.get(key, 0.0) + float(value)

    def _log_metric(self, name: str, value: float) -> None:
        """Record one custom numeric metric for the current batch."""
        self._log_metrics({name: value})

    def _log_skipped_record(self, record: SkippedRecord) -> None:
        """Record one input record skipped instead of failing the task.

        Counted in the custom metrics `skipped.<reason>` and `skipped_in.<source file>`; the
        executors list each record in the run's failure ledger (file, line, reason).
        """
        self.__dict__.setdefault("_skipped_records", []).append(record)
        self._log_metrics({f"skipped.{record.reason}": 1, f"skipped_in.{record.source_file}": 1})

    def _consume_skipped_records(self) -> list[SkippedRecord]:
        return self.__dict__.pop("_skipped_records", None) or []

    @contextlib.contextmanager
    def _time_metric(self, name: str) -> Iterator[None]:
        """Record the seconds the enclosed block takes as the custom metric `name`."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self._log_metric(name, time.perf_counter() - start)

    def _consume_custom_metrics(self) -> dict[str, float]:
        return self.__dict__.pop("_custom_metrics", {}) or {}

    def _consume_output_counts(self) -> list[int] | None:
        return self.__dict__.pop("_output_counts", None)

    def side_outputs(self) -> dict[str, str]:
        """Paths this stage writes besides its output tasks (label -> path); the run report lists them."""
        return {}

    def describe(self) -> dict[str, Any]:
        """Name, class, resources, batch size and declared inputs/outputs."""
        return {
            "name": self.name,
            "class": type(self).__name__,
            "resources": self.resources.to_dict(),
            "batch_size": self.batch_size,
            "inputs": list(map(list, self.inputs())),
            "outputs": list(map(list, self.outputs())),
            "barrier": self.is_barrier,
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def _mentions_list(annotation: Any) -> bool:
    if annotation is None:
        return False
    if typing.get_origin(annotation) is list or annotation is list:
        return True
    if typing.get_origin(annotation) in (typing.Union, UnionType):
        return any(_mentions_list(arg) for arg in typing.get_args(annotation))
    return False


def _files_hint(task: Task) -> str:
    files = task.source_files
    return f" (source files: {', '.join(files[:5])})" if files else ""


class CompositeStage(ProcessingStage[X, Y]):
    """A stage made of other stages; `Pipeline.build()` replaces it with `decompose()`."""

    _is_abstract_root = True

    @abstractmethod
    def decompose(self) -> list[ProcessingStage]:
        """The plain stages this composite stands for, in order."""

    def process(self, task: X) -> Y | list[Y] | None:
        raise RuntimeError(
            f"composite stage '{self.name}' cannot process tasks itself; build the pipeline to decompose it"
        )

    def with_(self, stage_with_dict: dict[str, dict[str, Any]] | None = None, **kwargs: Any) -> CompositeStage:  # type: ignore[override]
        """A copy whose parts are configured: `{part_name: {"name"|"resources"|"batch_size": ...}}`."""
        if kwargs:
            raise TypeError(
                f"composite stage '{self.name}': with_ takes a dict {{stage_name: {{option: value}}}}, "
                f"not keyword arguments {sorted(kwargs)}"
            )
        clone = copy.deepcopy(self)
        operations = list(getattr(self, "_with_operations", []))
        operations.append(dict(stage_with_dict or {}))
        object.__setattr__(clone, "_with_operations", operations)
        return clone

    def get_description(self) -> str:
        """One line naming the composite and the stages it decomposes into."""
        return f"{self.name}: " + " -> ".join(stage.name for stage in self.decompose())

    def decompose_and_apply_with(self) -> list[ProcessingStage]:
        """`decompose()` with every `with_` configuration applied to the named parts."""
        stages = list(self.decompose())
        for operation in getattr(self, "_with_operations", []):
            by_name = {s.name: i for i, s in enumerate(stages)}
            for part_name, options in operation.items():
                if part_name not in by_name:
                    raise PipelineConfigError(
                        f"composite stage '{self.name}': with_ names unknown part '{part_name}'; "
                        f"its parts are {sorted(by_name)}"
                    )
                unknown = set(options) - _WITH_OPTIONS
                if unknown:
                    raise PipelineConfigError(
                        f"composite stage '{self.name}': unknown with_ option(s) {sorted(unknown)} for "
                        f"part '{part_name}'; valid: {', '.join(sorted(_WITH_OPTIONS))}"
                    )
                index = by_name[part_name]
                stages[index] = stages[index].with_(**options)
        return stages


_WITH_OPTIONS = {
    "name",
    "resources",
    "batch_size",
    "runtime_env",
    "ray_stage_spec",
    "xenna_stage_spec",
    "num_workers",
    "num_workers_per_node",
}
