"""Integer document ids handed out per input file group, as NeMo Curator 1.4's id generator does.

`IdGeneratorBase.register_batch(files, count)` reserves `count` consecutive ids for one group
of files and returns the first; asking again for the same files returns the same range, so a
second pass over the same partitions (e.g. the removal pass) assigns the same ids. The state
(next id and the registry of ranges) is saved to and loaded from a JSON file
(`to_disk` / `from_disk`) in NeMo Curator's format.

`IdGenerator` is the same class as a named, detached Ray actor that every worker of a run can
reach (`create_id_generator_actor`, `get_id_generator_actor`, `write_id_generator_to_disk`,
`kill_id_generator_actor`). Unlike NeMo Curator, `create_id_generator_actor` connects to (or
starts) Ray and leaves it running: an embedded local Ray would take the detached actor with it
if it were shut down.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import fsspec

from raycurator.stages.deduplication.common import CURATOR_DEDUP_ID_STR
from raycurator.utils.ray_local import init_ray_on_this_machine

logger = logging.getLogger(__name__)

CURATOR_ID_GENERATOR_ACTOR_NAME = "curator_deduplication_id_generator"

__all__ = [
    "CURATOR_DEDUP_ID_STR",
    "CURATOR_ID_GENERATOR_ACTOR_NAME",
    "IdGenerator",
    "IdGeneratorBase",
    "create_id_generator_actor",
    "get_id_generator_actor",
    "kill_id_generator_actor",
    "write_id_generator_to_disk",
]


class IdGeneratorBase:
    """Hands out ranges of consecutive integer ids, one range per group of files."""

    def __init__(self, start_id: int = 0, batch_registry: dict[str, tuple[int, int]] | None = None) -> None:
        self.next_id = int(start_id)
        # {hash of the files: (first id, last id)}; JSON turns the tuples into lists
        self.batch_registry: dict[str, tuple[int, int]] = {
            key: (int(first), int(last)) for key, (first, last) in (batch_registry or {}).items()
        }

    @staticmethod
    def hash_files(filepath: str | list[str]) -> str:
        """The registry key of a file or list of files (a UUID5 of the joined paths)."""
        paths = filepath if isinstance(filepath, list) else [filepath]
        return str(uuid.uuid5(uuid.NAMESPACE_URL, ";".join(paths)))

    def register_batch(self, files: str | list[str], count: int) -> int:
        """The first of `count` ids reserved for `files` (the same range when asked again)."""
        if count < 0:
            raise ValueError(f"id generator: count must not be negative, got {count}")
        key = self.hash_files(files)
        known = self.batch_registry.get(key)
        if known is not None:
            return known[0]
        first = self.next_id
        self.next_id += count
        self.batch_registry[key] = (first, self.next_id - 1)
        return first

    def get_batch_range(self, files: str | list[str] | None, key: str | None) -> tuple[int, int]:
        """(first id, last id) registered for `files` or for the registry `key` (give exactly one)."""
        if (files is None) == (key is None):
            raise ValueError("id generator: give either files or key")
        return self.batch_registry[self.hash_files(files) if files is not None else key]

    def to_disk(self, filepath: str, storage_options: dict[str, Any] | None = None) -> None:
        """Save the state as JSON (`{"next_id": ..., "batch_registry": ...}`)."""
        with fsspec.open(filepath, mode="w", **(storage_options or {})) as handle:
            json.dump({"next_id": self.next_id, "batch_registry": self.batch_registry}, handle)

    @classmethod
    def from_disk(cls, filepath: str, storage_options: dict[str, Any] | None = None) -> IdGeneratorBase:
        """A generator with the state saved by `to_disk`."""
        state = _read_state(filepath, storage_options)
        return cls(start_id=state["next_id"], batch_registry=state["batch_registry"])

    def wait(self) -> None:
        """Returns at once; callers use it to know the actor is up."""


def _read_state(filepath: str, storage_options: dict[str, Any] | None) -> dict[str, Any]:
    with fsspec.open(filepath, mode="r", **(storage_options or {})) as handle:
        state = json.load(handle)
    if not isinstance(state, dict) or "next_id" not in state or "batch_registry" not in state:
        raise ValueError(f"id generator state {filepath}: expected an object with next_id and batch_registry")
    return state


def _ray() -> Any:
    import ray  # the actor helpers need Ray; the base class does not

    return ray


class _ActorClass:
    """`IdGenerator`: `IdGeneratorBase` as a Ray actor class, made on first use."""

    _remote: Any = None

    def _get(self) -> Any:
        if self._remote is None:
            self._remote = _ray().remote(IdGeneratorBase)
        return self._remote

    def options(self, **kwargs: Any) -> Any:
        return self._get().options(**kwargs)

    def remote(self, *args: Any, **kwargs: Any) -> Any:
        return self._get().remote(*args, **kwargs)


IdGenerator = _ActorClass()


def create_id_generator_actor(filepath: str | None = None, storage_options: dict[str, Any] | None = None) -> None:
    """Start the named id generator actor, empty or with the state saved at `filepath`."""
    ray = _ray()
    if not ray.is_initialized():
        init_ray_on_this_machine(ignore_reinit_error=True)
    state = _read_state(filepath, storage_options) if filepath is not None else {"next_id": 0, "batch_registry": {}}
    handle = IdGenerator.options(
        name=CURATOR_ID_GENERATOR_ACTOR_NAME,
        namespace=CURATOR_ID_GENERATOR_ACTOR_NAME,
        lifetime="detached",
        num_cpus=0,
    ).remote(start_id=state["next_id"], batch_registry=state["batch_registry"])
    ray.get(handle.wait.remote())
    logger.info("id generator actor started (next id %d)", state["next_id"])


def get_id_generator_actor() -> Any:
    """The running id generator actor (ValueError when there is none)."""
    ray = _ray()
    return ray.get_actor(name=CURATOR_ID_GENERATOR_ACTOR_NAME, namespace=CURATOR_ID_GENERATOR_ACTOR_NAME)


def kill_id_generator_actor() -> None:
    """Stop the id generator actor."""
    _ray().kill(get_id_generator_actor())


def write_id_generator_to_disk(filepath: str, storage_options: dict[str, Any] | None = None) -> None:
    """Save the running actor's state to `filepath` (JSON)."""
    _ray().get(get_id_generator_actor().to_disk.remote(filepath, storage_options or {}))
