"""The in-process backend."""

from raycurator.backends.local.executor import LocalExecutor

__all__ = ["LocalExecutor"]
