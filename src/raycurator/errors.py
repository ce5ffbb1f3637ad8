"""Exceptions raised by raycurator; each message says what to fix."""

from __future__ import annotations

from dataclasses import dataclass


class RayCuratorError(Exception):
    """Base class of raycurator's errors."""


class StageInputError(RayCuratorError, ValueError):
    """A task handed to a stage lacks what the stage declares it needs."""


class PipelineConfigError(RayCuratorError, ValueError):
    """A pipeline, stage or executor is configured in a way that cannot run."""


class InsufficientResourcesError(RayCuratorError):
    """The cluster cannot host even one worker of a stage."""


class PipelineStalledError(InsufficientResourcesError):
    """A run in which nothing made progress for the executor's `stall_timeout_s` seconds."""


class StageExecutionError(RayCuratorError):
    """A stage raised while processing a batch; names the stage, tasks and files involved.

    Structured: `task_ids` and `source_files` are lists, the stage's own traceback is
    `traceback_text`, and `summary` is the one-paragraph message without it (what reports and
    the command line show); `str(error)` is the summary followed by that traceback.
    """

    def __init__(
        self,
        stage_name: str,
        task_ids: list[str],
        source_files: list[str],
        error_type: str,
        error_message: str,
        traceback_text: str = "",
    ) -> None:
        self.stage_name = stage_name
        self.task_ids = list(task_ids)
        self.source_files = list(source_files)
        self.error_type = error_type
        self.error_message = error_message
        self.traceback_text = traceback_text
        files = ", ".join(source_files[:5]) + (" ..." if len(source_files) > 5 else "")
        ids = ", ".join(task_ids[:10]) + (" ..." if len(task_ids) > 10 else "")
        message = f"stage '{stage_name}' failed on task(s) [{ids}]"
        if files:
            message += f" from file(s) [{files}]"
        message += f": {error_type}: {error_message}"
        self.summary = message
        if traceback_text:
            message += f"\n--- original traceback ---\n{traceback_text.rstrip()}"
        super().__init__(message)

    def detached(self) -> StageExecutionError:
        """The same error as a plain `StageExecutionError`: not the class Ray derives to wrap a remote
        error, and without the chain of errors it was found in."""
        return StageExecutionError(
            self.stage_name, self.task_ids, self.source_files, self.error_type, self.error_message,
            self.traceback_text,
        )  # fmt: skip

    def __reduce__(self) -> tuple:
        return (
            type(self),
            (
                self.stage_name,
                self.task_ids,
                self.source_files,
                self.error_type,
                self.error_message,
                self.traceback_text,
            ),
        )


@dataclass(frozen=True)
class SkippedRecord:
    """One input record a stage dropped instead of failing its task (e.g. a malformed JSON line).

    `reason` is a short identifier (`invalid_json`, `too_deep`, ...); `line` is 1-based when known.
    """

    source_file: str
    line: int | None
    reason: str
    detail: str = ""


def error_summary(error: BaseException) -> str:
    """`error` in one paragraph: its type and message (a stage error without its traceback)."""
    message = error.summary if isinstance(error, StageExecutionError) else str(error)
    return f"{type(error).__name__}: {message}"


class RunTerminated(KeyboardInterrupt):
    """The process was asked to stop (SIGTERM); a run treats it like Ctrl-C (clean shutdown, "interrupted")."""
