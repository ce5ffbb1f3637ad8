"""Keeping a Ray node on this machine's loopback (Ray 2.60), for every layer that starts or joins one.

Ray rewrites a node address of 127.0.0.1 to the host's address unless its flag
`RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER` is false, and reads that flag when `ray` is imported. A
driver that joins a loopback-only cluster must use 127.0.0.1 as well, or Ray waits for a raylet
at the host's address that never comes. See `raycurator.backends.ray_cluster` and docs/security.md.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: Ray's flag for "no multi-node cluster": node addresses stay on loopback when it is false.
CLUSTER_FLAG_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def is_loopback(host: str) -> bool:
    """Whether `host` (a name or an IP address) means this machine only."""
    host = host.strip("[]")
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        try:
            address = ipaddress.ip_address(socket.gethostbyname(host))
        except (OSError, ValueError):
            return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool((mapped or address).is_loopback)


@contextmanager
def loopback_node_address() -> Iterator[None]:
    """While Ray starts a local node: keep its node address on 127.0.0.1 (see the module docstring)."""
    from ray._private import ray_constants

    saved_env, saved_flag = os.environ.get(CLUSTER_FLAG_ENV), ray_constants.ENABLE_RAY_CLUSTER
    os.environ[CLUSTER_FLAG_ENV] = "0"  # for the processes Ray starts
    ray_constants.ENABLE_RAY_CLUSTER = False  # for this process, which read the flag at import
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = saved_flag
        if saved_env is None:
            os.environ.pop(CLUSTER_FLAG_ENV, None)
        else:
            os.environ[CLUSTER_FLAG_ENV] = saved_env


def init_ray_on_this_machine(address: str | None = None, **kwargs: Any) -> None:
    """`ray.init` for a cluster on this machine: joins `address` (default `RAY_ADDRESS`), or starts or
    finds a local one, with the driver's node address on loopback when the cluster's is."""
    import ray

    address = address or os.environ.get("RAY_ADDRESS") or None
    host = address.rsplit("://", 1)[-1].rpartition(":")[0] if address and ":" in address else None
    if address is None or address == "local" or (host is not None and is_loopback(host)):
        with loopback_node_address():
            ray.init(address=address, **{"_node_ip_address": "127.0.0.1", **kwargs})
    else:
        ray.init(address=address, **kwargs)
