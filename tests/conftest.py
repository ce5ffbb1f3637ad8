"""Shared fixtures: one local Ray cluster for the whole test session."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

os.environ.setdefault("RAY_DEDUP_LOGS", "0")


class RaySession:
    """The test session's local Ray (2 CPUs, loopback only, no dashboard), started on demand.

    Tests that need a cluster of their own (multi-node, crashes) call `suspend()` first; the
    next test that wants the shared Ray starts it again.
    """

    def ensure(self) -> None:
        import ray

        from raycurator.backends.ray_cluster import start_local_ray

        if not ray.is_initialized():
            # a fresh local Ray (never another one on this machine), every port on loopback
            start_local_ray(num_cpus=2, namespace="raycurator-tests")

    def suspend(self) -> None:
        import ray

        if ray.is_initialized():
            ray.shutdown()

    @contextmanager
    def cluster(self, *workers: dict[str, Any]) -> Iterator[Any]:
        """A simulated multi-node cluster (`ray.cluster_utils.Cluster`): a head with 1 CPU and no
        dashboard plus one node per `add_node` keyword dict in `workers`; always shut down after."""
        import ray
        from ray.cluster_utils import Cluster

        self.suspend()
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
        try:
            for worker in workers:
                cluster.add_node(**worker)
            cluster.wait_for_nodes()
            yield cluster
        finally:
            if ray.is_initialized():
                ray.shutdown()
            cluster.shutdown()


@pytest.fixture(scope="session")
def ray_session() -> Iterator[RaySession]:
    """The session's shared local Ray; shut down at the end of the session."""
    session = RaySession()
    try:
        yield session
    finally:
        session.suspend()


@pytest.fixture
def shared_ray(ray_session: RaySession) -> Iterator[None]:
    """Run the test on the session's shared local Ray."""
    ray_session.ensure()
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


def _owns_cluster(item: pytest.Item) -> bool:
    """Whether a test stops the shared Ray for a Ray of its own (it asks for `ray_session`, not `shared_ray`)."""
    names = getattr(item, "fixturenames", ())
    return "ray_session" in names and "shared_ray" not in names


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the tests that start a Ray of their own (multi-node, loopback) after all the others, in their
    usual order: the shared Ray then starts once per session instead of again after each of them."""
    own = [item for item in items if _owns_cluster(item)]
    if own:
        items[:] = [item for item in items if not _owns_cluster(item)] + own
