"""Connecting to Ray and looking at the cluster: shared by the Ray backends.

With an address (argument, config `address`, or `RAY_ADDRESS`) we connect to that cluster and
never shut it down; an address where nothing answers is given up after `connect_timeout_s`.
Otherwise an already initialised Ray in this process is used as is; else an embedded local Ray
is started (dashboard off) that listens on loopback only, and shut down afterwards.

Loopback only: Ray 2.60 rewrites a node address of 127.0.0.1 (`_node_ip_address`,
`--node-ip-address`) to the host's address unless `RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER` is false,
a flag it reads when `ray` is imported. Its gRPC servers (GCS, raylet, object manager, workers,
agents) bind to the node address, so the embedded Ray is started with that flag off for the
call: every port it opens is then on 127.0.0.1 (see docs/security.md and the test that lists them).

Authentication: with `RAY_AUTH_MODE=disabled` anyone who reaches a Ray port runs code as the
cluster's user. Connecting to or starting a cluster that way on a non-loopback address is
refused unless `allow_insecure` is set, and then logged as a warning.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from raycurator.backends.base import BaseStageAdapter, NodeInfo, WorkerMetadata
from raycurator.backends.code_shipping import check_code_on_nodes
from raycurator.errors import PipelineConfigError, RunTerminated
from raycurator.stages.base import ProcessingStage
from raycurator.utils.ray_local import CLUSTER_FLAG_ENV, is_loopback, loopback_node_address

__all__ = ["CLUSTER_FLAG_ENV", "RayConnection", "is_loopback", "loopback_node_address", "start_local_ray"]

logger = logging.getLogger(__name__)

#: The environment variable that turns Ray's token authentication off (`disabled`).
AUTH_MODE_ENV = "RAY_AUTH_MODE"
DEFAULT_CONNECT_TIMEOUT_S = 60.0


def address_host_port(address: str) -> tuple[str, int | None] | None:
    """(host, port) of a Ray address (`host:port`, `ray://host:port`); None for `auto`/`local`."""
    if address in ("auto", "local"):
        return None
    parts = urlsplit("//" + address.split("://", 1)[-1])
    try:
        port = parts.port
    except ValueError:
        port = None
    return parts.hostname or "", port


def auth_disabled() -> bool:
    """Whether this process runs Ray with token authentication turned off."""
    return os.environ.get(AUTH_MODE_ENV, "").strip().lower() == "disabled"


def check_authentication(host: str, allow_insecure: bool, what: str) -> None:
    """Refuse (or, with `allow_insecure`, warn about) a cluster without authentication reachable off this machine."""
    if not auth_disabled() or is_loopback(host):
        return
    message = (
        f"{what} at {host} with Ray authentication disabled ({AUTH_MODE_ENV}=disabled): anyone who can reach its "
        "ports can run code as its user"
    )
    if not allow_insecure:
        raise PipelineConfigError(
            message + f". Unset {AUTH_MODE_ENV} (token authentication is Ray's default), or accept the risk with "
            "--insecure (executor config: allow_insecure_ray=True)"
        )
    logger.warning("INSECURE: %s (allowed by allow_insecure_ray / --insecure)", message)


def wait_for_port(host: str, port: int, timeout_s: float) -> None:
    """Wait until something accepts TCP connections at host:port; a clear error after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    last: OSError | None = None
    while True:
        try:
            with socket.create_connection((host, port), timeout=min(5.0, max(0.1, timeout_s))):
                return
        except OSError as error:
            last = error
        if time.monotonic() >= deadline:
            raise ConnectionError(
                f"no Ray cluster answers at {host}:{port} (tried for {timeout_s:g} s: {last}); check the address "
                "(--address / RAY_ADDRESS) or raise connect_timeout_s"
            )
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))


def latest_started_cluster() -> str | None:
    """The address (host:port) Ray's `auto` would join: the last cluster `ray start` started on
    this machine, as Ray records it; None when there is none."""
    from ray._private.services import find_bootstrap_address

    try:
        return find_bootstrap_address(None) or None
    except Exception:  # unreadable record: leave `auto` to Ray
        return None


def raise_run_terminated(signum: int, frame: Any) -> None:
    """A SIGTERM handler: stop the run like Ctrl-C does (the executor then shuts down cleanly)."""
    raise RunTerminated(f"received signal {signum}")


def start_local_ray(**kwargs: Any) -> str:
    """Start an embedded Ray whose every port listens on loopback; returns its node address."""
    options: dict[str, Any] = {"include_dashboard": False, "_node_ip_address": "127.0.0.1"}
    options.update(kwargs)
    with loopback_node_address():
        ray.init(address="local", **options)
    return ray.util.get_node_ip_address()


class RayConnection:
    """Context manager: connect (or start) Ray for one run, and clean up what we started."""

    def __init__(
        self,
        address: str | None = None,
        runtime_env: dict[str, Any] | None = None,
        num_cpus: int | None = None,
        init_kwargs: dict[str, Any] | None = None,
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
        allow_insecure: bool = False,
    ) -> None:
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.runtime_env = runtime_env
        self.num_cpus = num_cpus
        self.init_kwargs = dict(init_kwargs or {})
        self.connect_timeout_s = connect_timeout_s
        self.allow_insecure = allow_insecure
        self.started_here = False
        self._previous_sigterm: Any = None

    def __enter__(self) -> RayConnection:
        main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.getsignal(signal.SIGTERM) if main_thread else None
        self._open()
        if main_thread:
            # Ray's own SIGTERM handlers exit abruptly: while the run lasts, stop it cleanly
            # (installed only once connected: a failed connect has no __exit__ to restore it)
            self._previous_sigterm = previous
            signal.signal(signal.SIGTERM, raise_run_terminated)
        return self

    def _open(self) -> RayConnection:
        if self.address:
            if ray.is_initialized():
                logger.info("Ray already initialised in this process; using it (address %s ignored)", self.address)
            else:
                self._connect(self.address)
                self.started_here = False
                self._connected_here = True
                return self
        elif ray.is_initialized():
            logger.debug("using the Ray already initialised in this process")
        else:
            kwargs: dict[str, Any] = {"runtime_env": self.runtime_env, "num_cpus": self.num_cpus}
            kwargs.update(self.init_kwargs)
            check_authentication(str(kwargs.get("_node_ip_address", "127.0.0.1")), self.allow_insecure, "starting Ray")
            node_address = start_local_ray(**kwargs)
            self.started_here = True
            logger.info(
                "started an embedded local Ray (dashboard off); node address %s%s",
                node_address,
                ", listening on loopback only" if is_loopback(node_address) else "",
            )
        self._connected_here = False
        return self

    def _connect(self, address: str) -> None:
        target = address_host_port(address)
        if target is not None:
            host, port = target
            check_authentication(host, self.allow_insecure, "connecting to a Ray cluster")
            if port is not None:
                wait_for_port(host, port, self.connect_timeout_s)
        logger.info("connecting to the Ray cluster at %s", address)
        if target is None and address == "auto":
            found = latest_started_cluster()
            if found is not None and is_loopback(found.rpartition(":")[0]):
                # still `auto` for Ray (it sets up the token), but this driver joins on loopback
                options = {"_node_ip_address": "127.0.0.1", **self.init_kwargs}
                with loopback_node_address():
                    ray.init(address=address, runtime_env=self.runtime_env, **options)
                self._check_auto_authentication()
                return
        if target is not None and is_loopback(target[0]):
            # a cluster on this machine's loopback: this driver's node address must be 127.0.0.1 as
            # well, or Ray looks for a raylet at the host's address and waits for it forever
            options = {"_node_ip_address": "127.0.0.1", **self.init_kwargs}
            with loopback_node_address():
                ray.init(address=address, runtime_env=self.runtime_env, **options)
        else:
            ray.init(address=address, runtime_env=self.runtime_env, **self.init_kwargs)
        if target is None:  # `auto`: the cluster's own address tells where it listens
            self._check_auto_authentication()

    def _check_auto_authentication(self) -> None:
        gcs_host = (ray.get_runtime_context().gcs_address or "").rpartition(":")[0]
        try:
            check_authentication(gcs_host, self.allow_insecure, "connecting to a Ray cluster")
        except PipelineConfigError:
            ray.shutdown()
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self.started_here or getattr(self, "_connected_here", False):
                ray.shutdown()
        finally:
            if self._previous_sigterm is not None and threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGTERM, self._previous_sigterm)


@dataclass(frozen=True)
class ClusterNode:
    """An alive node and its total resources."""

    node_id: str
    cpus: float
    gpus: float
    is_head: bool


def alive_nodes(ignore_head_node: bool = False) -> list[ClusterNode]:
    """The alive nodes of the connected cluster (without the head node when asked)."""
    nodes = []
    for node in ray.nodes():
        if not node.get("Alive"):
            continue
        resources = node.get("Resources", {})
        is_head = "node:__internal_head__" in resources
        if ignore_head_node and is_head:
            continue
        nodes.append(
            ClusterNode(node["NodeID"], float(resources.get("CPU", 0)), float(resources.get("GPU", 0)), is_head)
        )
    return sorted(nodes, key=lambda n: (not n.is_head, n.node_id))


def pinned(node_id: str) -> NodeAffinitySchedulingStrategy:
    """A scheduling strategy that runs on `node_id` only."""
    return NodeAffinitySchedulingStrategy(node_id=node_id, soft=False)


@ray.remote
def _setup_on_node_remote(stage: ProcessingStage, node_id: str) -> str:
    context = ray.get_runtime_context()
    BaseStageAdapter(stage).setup_on_node(NodeInfo(node_id=node_id), WorkerMetadata(worker_id=context.get_worker_id()))
    return context.get_node_id()


def run_setup_on_nodes(stages: list[ProcessingStage], nodes: list[ClusterNode]) -> None:
    """Run every stage's `setup_on_node` once on every node that can host it, pinned there, with its resources.

    First, every node must be able to import the stages' own modules (`code_shipping`).
    """
    check_code_on_nodes(stages, nodes)
    calls = []
    for stage in stages:
        if type(stage).setup_on_node is ProcessingStage.setup_on_node:
            continue  # nothing to run: spare a worker process per node
        resources = stage.resources
        gpus = ray_gpus(stage)
        for node in nodes:
            if node.cpus + 1e-9 < resources.cpus or node.gpus + 1e-9 < gpus:
                continue  # no worker of this stage can run here
            options = {
                "num_cpus": min(resources.cpus, node.cpus),
                "num_gpus": gpus,
                "scheduling_strategy": pinned(node.node_id),
                "max_retries": 0,
            }
            calls.append((stage, node, _setup_on_node_remote.options(**options).remote(stage, node.node_id)))
    for stage, node, ref in calls:
        try:
            ray.get(ref)
        except ray.exceptions.RayTaskError as error:
            cause = error.cause if getattr(error, "cause", None) is not None else error
            raise RuntimeError(
                f"stage '{stage.name}': setup_on_node failed on node {node.node_id}: {type(cause).__name__}: {cause}"
            ) from error


def ray_gpus(stage: ProcessingStage) -> float:
    """GPUs to ask Ray for, per worker of `stage` (fractions allowed)."""
    resources = stage.resources
    if resources.gpus:
        return float(resources.gpus)
    if resources.entire_gpu:
        return 1.0
    if resources.gpu_memory_gb:
        raise ValueError(
            f"stage '{stage.name}' asks for gpu_memory_gb={resources.gpu_memory_gb}; the actor-pool backend "
            "needs a GPU count: use Resources(gpus=fraction) instead"
        )
    return 0.0
