"""Checking, before a run, that every node of the cluster can import the pipeline's code.

Ray sends stages to workers by reference to their class (module + name). A stage defined in
the user's own module (`my_stages.py` next to the pipeline file) is importable on the driver
but not on another host, unless the code is shipped (`runtime_env={"working_dir": DIR}` or
`py_modules`, `raycurator run --working-dir DIR`) or installed there. Without this check the
first actor of such a stage dies with a deserialisation error deep in Ray's logs; with it the
run stops at once with an error naming the stage, the module and the node.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import ray
from ray.cloudpickle import cloudpickle
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from raycurator.stages.base import ProcessingStage


class UserCodeNotFoundError(ImportError):
    """A module the pipeline's stages need cannot be imported on a node of the cluster."""


def _user_module(obj: Any) -> str | None:
    """The module a worker must import to rebuild `obj`, when it may be missing there.

    None for the standard library, raycurator itself, installed packages (site-packages), and
    classes Ray sends by value (`__main__`, modules registered with cloudpickle's
    `register_pickle_by_value`): those need no shipping.
    """
    cls = type(obj)
    module = getattr(cls, "__module__", None) or ""
    top = module.split(".")[0]
    if not module or top in sys.stdlib_module_names or top in ("builtins", "raycurator"):
        return None
    if not cloudpickle._should_pickle_by_reference(cls):  # sent by value: nothing to import
        return None
    path = getattr(sys.modules.get(module), "__file__", None) or ""
    if any(part in ("site-packages", "dist-packages") for part in path.replace("\\", "/").split("/")):
        return None
    return module


def needed_modules(stages: list[ProcessingStage]) -> dict[str, str]:
    """{module: what needs it} for the stages' classes and the objects among their attributes (filters, ...)."""
    needed: dict[str, str] = {}
    for stage in stages:
        label = f"stage '{stage.name}' (class {type(stage).__module__}.{type(stage).__qualname__})"
        module = _user_module(stage)
        if module:
            needed.setdefault(module, label)
        for value in vars(stage).values():
            for item in value if isinstance(value, list | tuple) else [value]:
                inner = _user_module(item) if hasattr(item, "__dict__") and not isinstance(item, type) else None
                if inner:
                    needed.setdefault(inner, f"{label}, its {type(item).__qualname__} object")
    return needed


@ray.remote(num_cpus=0, max_retries=0)
def _import_all(modules: list[str]) -> dict[str, str]:
    """Import each module here; {module: error} for those that fail."""
    failed = {}
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as error:  # any import-time failure counts
            failed[name] = f"{type(error).__name__}: {error}"
    return failed


def check_code_on_nodes(stages: list[ProcessingStage], nodes: list[Any]) -> None:
    """Import the stages' modules on every node (objects with a `node_id`); `UserCodeNotFoundError` if one fails."""
    needed = needed_modules(stages)
    if not needed:
        return
    modules = sorted(needed)
    calls = [
        (
            node,
            _import_all.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node.node_id, soft=False)).remote(
                modules
            ),
        )
        for node in nodes
    ]
    addresses = {n["NodeID"]: n.get("NodeManagerAddress", "?") for n in ray.nodes()}
    for node, ref in calls:
        failed = ray.get(ref)
        if failed:
            module, error = next(iter(sorted(failed.items())))
            where = f"node {addresses.get(node.node_id, '?')} ({node.node_id[:12]})"
            raise UserCodeNotFoundError(
                f"{needed[module]} needs module '{module}', which cannot be imported on {where}: {error}. "
                "The workers of a cluster do not see the driver's files: ship your code with "
                "`raycurator run --working-dir DIR` (executor config runtime_env: {working_dir: DIR} or "
                "{py_modules: [...]}) or install it on every node"
            )
