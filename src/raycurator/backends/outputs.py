"""Output folders of a run, handled the same way by every executor.

`RunOutputs(stages)` refuses, before anything runs, a writer whose folder is an input
folder, lies inside one, contains one, or is the folder of an input file (the run would
overwrite or re-read its own inputs), and two writers sharing a folder. `open(resuming)` then
opens every writer's folder for the run (lock, write mode; on the driver, before stages are
shipped to workers) and `close(succeeded)` publishes or releases them.
"""

from __future__ import annotations

import logging
import os
import posixpath
import re

import fsspec
from fsspec.implementations.local import LocalFileSystem

from raycurator.errors import PipelineConfigError
from raycurator.stages.base import ProcessingStage
from raycurator.stages.run_lifecycle import OutputSession, ReadsInputs, RunContext, WritesOutputFolder

logger = logging.getLogger(__name__)

_GLOB = re.compile(r"[*?\[]")


def _location(path: str, storage_options: dict | None = None) -> tuple[str, str, bool]:
    """(filesystem protocol, normalised absolute path, is a folder) of `path`; globs give their folder."""
    fs, root = fsspec.core.url_to_fs(path, **(storage_options or {}))
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    glob = bool(_GLOB.search(root))
    if glob:
        root = posixpath.dirname(_GLOB.split(root, maxsplit=1)[0])
    if isinstance(fs, LocalFileSystem):
        root = os.path.realpath(root)
    root = posixpath.normpath(root) if root else "/"
    try:
        folder = glob or not fs.isfile(root)
    except OSError:
        folder = True
    return protocol, root, folder


def _inside(child: str, parent: str) -> bool:
    return child == parent or child.startswith(parent.rstrip("/") + "/")


def check_outputs(stages: list[ProcessingStage]) -> None:
    """Raise `PipelineConfigError` when an output folder overlaps an input or another output (see the module)."""
    inputs: list[tuple[str, str, str, bool]] = []
    for stage in stages:
        if isinstance(stage, ReadsInputs):
            options = getattr(stage, "storage_options", None)
            for given in stage.input_paths():
                inputs.append((stage.name, given, *_location(given, options)))
    outputs: dict[tuple[str, str], str] = {}
    for stage in stages:
        if not isinstance(stage, WritesOutputFolder):
            continue
        out = stage.output_path()
        protocol, folder, _ = _location(out, getattr(stage, "storage_options", None))
        for reader, given, in_protocol, in_path, is_folder in inputs:
            if in_protocol != protocol:
                continue
            clash = (
                _inside(folder, in_path) or _inside(in_path, folder)
                if is_folder
                else folder == posixpath.dirname(in_path)
            )
            if clash:
                what = "input folder" if is_folder else "folder of the input file"
                raise PipelineConfigError(
                    f"stage '{stage.name}' would write into {out}, which overlaps the {what} {given} read by stage "
                    f"'{reader}': a run must not overwrite or re-read its own inputs; write to a folder outside "
                    "the inputs"
                )
        other = outputs.get((protocol, folder))
        if other is not None:
            raise PipelineConfigError(f"stages '{other}' and '{stage.name}' both write into {out}")
        outputs[(protocol, folder)] = stage.name


class RunOutputs:
    """The output folders of one run of `stages`."""

    def __init__(self, stages: list[ProcessingStage]) -> None:
        check_outputs(stages)
        self.writers = [s for s in stages if isinstance(s, WritesOutputFolder)]
        self.sessions: list[OutputSession] = []

    def open(self, resuming: bool = False) -> None:
        """Open every output folder (on failure, the ones already opened are released)."""
        context = RunContext(resuming=resuming)
        try:
            for writer in self.writers:
                self.sessions.append(writer.open_output(context))
        except BaseException:
            self.close(succeeded=False)
            raise

    def close(self, succeeded: bool) -> None:
        """Close every open folder; on success each gets its manifest."""
        sessions, self.sessions = self.sessions, []
        failure: BaseException | None = None
        for session in sessions:
            try:
                session.finish(succeeded)
            except Exception as error:  # release the others before reporting
                logger.error("closing an output folder failed: %s", error)
                failure = failure or error
        if failure is not None and succeeded:
            raise failure
