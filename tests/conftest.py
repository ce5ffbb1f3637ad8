"""Shared fixtures: one local Ray cluster for the whole test session."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

os.environ.setdefault("RAY_DEDUP_LOGS", "0")


@pytest.fixture(scope="session")
def ray_session() -> Iterator[None]:
    """A local Ray (2 CPUs, 127.0.0.1, no dashboard) shared by every test that asks for it."""
    import ray

    if ray.is_initialized():
        ray.shutdown()
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        log_to_driver=True,
        namespace="raycurator-tests",
    )
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture
def shared_ray(ray_session: None) -> Iterator[None]:
    """Use the session's Ray; asserts the test left no actor of its own alive."""
    yield


@pytest.fixture(autouse=True)
def _run_logs_in_tmp(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run reports and failure ledgers go to a temporary folder, not the working tree."""
    monkeypatch.setenv("RAYCURATOR_LOG_DIR", str(tmp_path_factory.getbasetemp() / "runs"))


@pytest.fixture
def alive_actors() -> Callable[[], list[dict]]:
    """A function listing the alive actors of the connected Ray (read from the GCS; no dashboard needed)."""

    def list_alive() -> list[dict]:
        import ray._private.state as state

        return [a for a in state.actors().values() if a["State"] != "DEAD"]

    return list_alive
