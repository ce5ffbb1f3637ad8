"""Shared fixtures: one local Ray cluster for the whole test session."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("RAY_DEDUP_LOGS", "0")


# A removed node is declared dead after 3 missed health checks a second apart (Ray's default: 5 missed
# checks 3 s apart, 15 s); a check times out only after 10 s, so a busy machine does not lose nodes by it.
FAST_NODE_DEATH = {"health_check_period_ms": 1000, "health_check_failure_threshold": 3}


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
        head = {"num_cpus": 1, "include_dashboard": False, "_system_config": FAST_NODE_DEATH}
        cluster = Cluster(initialize_head=True, head_node_args=head)
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


_SHARED_RAY = {"shared_ray", "cli_on_shared_ray", "alive_actors"}


def _owns_cluster(item: pytest.Item) -> bool:
    """Whether a test stops the shared Ray for a Ray of its own (it asks for `ray_session`, not the shared Ray)."""
    names = set(getattr(item, "fixturenames", ()))
    return "ray_session" in names and not names & _SHARED_RAY


def _uses_ray(item: pytest.Item) -> bool:
    """Whether a test uses Ray: the shared one, a Ray or simulated cluster of its own, or processes
    of its own that start one (the `raycurator` command)."""
    names = set(getattr(item, "fixturenames", ()))
    if "ray_session" in names or names & _SHARED_RAY or "cli" in names:
        return True
    source = getattr(getattr(item, "module", None), "__file__", None)
    return bool(source) and _starts_processes(source)


@functools.cache
def _starts_processes(module_file: str) -> bool:
    """Whether a test module starts processes of its own (read once per module)."""
    return "subprocess" in Path(module_file).read_text(encoding="utf-8")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the tests that start a Ray of their own (multi-node, loopback) after the others of the shared
    Ray, in their usual order: the shared Ray then starts once per session instead of again after each.

    Under pytest-xdist (`-n 2 --dist loadgroup`, as `make test` runs) every test that uses Ray is in
    one group, run in that order on one worker, so that two Rays never compete for the CPUs (timing
    tests stay meaningful) and the shared Ray starts once; the tests that need no Ray run on the
    other worker meanwhile.
    """
    own = [item for item in items if _owns_cluster(item)]
    if own:
        items[:] = [item for item in items if not _owns_cluster(item)] + own
    if not getattr(config.option, "loadgroup", False):  # set on pytest-xdist's workers with --dist loadgroup
        return
    for item in items:
        if _uses_ray(item):
            item.add_marker(pytest.mark.xdist_group("ray"))
