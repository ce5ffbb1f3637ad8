"""Tasks: the units of data that flow through a pipeline."""

from raycurator.tasks.document import DocumentBatch
from raycurator.tasks.file_group import FileGroupTask
from raycurator.tasks.sentinels import FailedTask, NoneTask, SentinelTask
from raycurator.tasks.tasks import EmptyTask, Task, _EmptyTask

__all__ = [
    "DocumentBatch",
    "EmptyTask",
    "FailedTask",
    "FileGroupTask",
    "NoneTask",
    "SentinelTask",
    "Task",
    "_EmptyTask",
]
