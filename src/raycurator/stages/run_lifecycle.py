"""What a stage tells an executor about the folders it reads and writes, run by run.

An executor asks every stage that reads paths (`ReadsInputs`) and every stage that owns an
output folder (`WritesOutputFolder`) before anything runs: an output folder that is, contains
or lies inside an input folder is refused. It then opens each output folder for the run
(`open_output`, on the driver, before the stages are shipped to workers) and closes it with
the run's outcome (`OutputSession.finish`).
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass


@dataclass(frozen=True)
class RunContext:
    """The run an output folder is opened for.

    `resuming` is True when the executor continues an interrupted run from a checkpoint that
    already holds finished partitions (their outputs are on disk and will not be written again).
    """

    resuming: bool = False


class OutputSession:
    """An output folder held open for one run (driver side)."""

    @abstractmethod
    def finish(self, succeeded: bool) -> None:
        """Close the folder: on success publish what the run wrote; always release it."""


class ReadsInputs:
    """A stage that reads files or folders named by paths or URLs."""

    @abstractmethod
    def input_paths(self) -> list[str]:
        """The paths, folders or globs the stage reads."""


class WritesOutputFolder:
    """A stage that writes files into one output folder."""

    @abstractmethod
    def output_path(self) -> str:
        """The output folder (path or URL)."""

    @abstractmethod
    def open_output(self, context: RunContext) -> OutputSession:
        """Prepare the folder for a run (lock, write mode); the session closes it."""
