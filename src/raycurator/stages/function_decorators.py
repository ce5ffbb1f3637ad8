"""`@processing_stage`: turn a plain function into a stage."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from raycurator.stages.base import ProcessingStage
from raycurator.stages.resources import Resources
from raycurator.tasks import Task


class _FunctionStage(ProcessingStage[Task, Task]):
    """A stage whose `process` calls a user function."""

    _is_abstract_root = True
    _function: Callable[[Task], Any]

    def process(self, task: Task) -> Task | list[Task] | None:
        return type(self)._function(task)


def processing_stage(
    *,
    name: str,
    resources: Resources | dict[str, float] | None = None,
    batch_size: int | None = 1,
) -> Callable[[Callable[[Task], Any]], ProcessingStage]:
    """Decorator: `@processing_stage(name="x")` over `def f(task) -> task | list | None`.

    The decorated name becomes a stage instance, ready for `Pipeline.add_stage`. `resources`
    may be a `Resources` or a dict of its fields (`{"cpus": 2.0}`), as in NeMo Curator.
    """
    if not isinstance(name, str) or not name:
        raise TypeError("processing_stage needs a non-empty name")
    if isinstance(resources, dict):
        resources = Resources(**resources)

    def decorate(function: Callable[[Task], Any]) -> ProcessingStage:
        namespace = {
            "_function": staticmethod(function),
            "_name": name,
            "_resources": resources if resources is not None else Resources(),
            "_batch_size": batch_size,
            "__doc__": function.__doc__,
            "__module__": function.__module__,
        }
        cls = type(name, (_FunctionStage,), namespace)
        return cls()

    return decorate
