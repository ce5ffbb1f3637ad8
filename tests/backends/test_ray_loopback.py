"""The embedded Ray listens on loopback only; authentication-less clusters off this machine are refused;
an address where nothing answers is given up in time."""

from __future__ import annotations

import ipaddress
import socket
import time

import psutil
import pytest
import ray

from raycurator.backends.ray_cluster import RayConnection, address_host_port, is_loopback
from raycurator.errors import PipelineConfigError


@pytest.fixture(autouse=True)
def _without_the_shared_ray(ray_session):
    """These tests connect (or fail to connect) on their own: no Ray may be initialised before them."""
    ray_session.suspend()


def listening_sockets(pids: set[int]) -> dict[int, list[tuple[str, int]]]:
    found: dict[int, list[tuple[str, int]]] = {}
    for pid in pids:
        try:
            connections = psutil.Process(pid).net_connections(kind="inet")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        found[pid] = [(c.laddr.ip, c.laddr.port) for c in connections if c.status == psutil.CONN_LISTEN]
    return found


def test_every_port_of_the_embedded_ray_is_on_loopback(ray_session):
    ray_session.suspend()  # this test starts (and stops) a Ray of its own
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    with RayConnection(num_cpus=1) as connection:
        assert connection.started_here
        assert ray.get(ray.remote(lambda: 1).remote()) == 1  # a worker process is up too
        assert ray.nodes()[0]["NodeManagerAddress"] == "127.0.0.1"
        time.sleep(2)  # agents open their ports shortly after start
        started = {p.pid for p in me.children(recursive=True)} - before
        sockets = listening_sockets(started)
    assert not ray.is_initialized()
    names = {pid: " ".join(psutil.Process(pid).cmdline()[:2])[-60:] for pid in sockets if psutil.pid_exists(pid)}
    every = [(pid, ip, port) for pid, pairs in sockets.items() for ip, port in pairs]
    assert len(every) >= 5, f"expected Ray's GCS, raylet, agents and a worker to listen: {sockets}"
    exposed = [(names.get(pid), ip, port) for pid, ip, port in every if not is_loopback(ip)]
    assert exposed == [], f"ports open beyond loopback: {exposed}"
    assert all(ipaddress.ip_address(ip).is_loopback or ip.startswith("::ffff:127.") for _, ip, _ in every)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_address_where_nothing_listens_fails_in_time():
    port = free_port()
    start = time.monotonic()
    with pytest.raises(ConnectionError, match=rf"no Ray cluster answers at 127\.0\.0\.1:{port} \(tried for 1\.5 s"):
        with RayConnection(address=f"127.0.0.1:{port}", connect_timeout_s=1.5):
            pass
    assert time.monotonic() - start < 10
    assert not ray.is_initialized()


def test_authentication_disabled_off_loopback_is_refused_unless_insecure(monkeypatch, caplog):
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    with pytest.raises(PipelineConfigError, match=r"198\.51\.100\.7 with Ray authentication disabled.*--insecure"):
        with RayConnection(address="ray://198.51.100.7:10001", connect_timeout_s=1):
            pass
    with pytest.raises(PipelineConfigError, match=r"starting Ray at 198\.51\.100\.7"):
        with RayConnection(init_kwargs={"_node_ip_address": "198.51.100.7"}):
            pass
    assert not ray.is_initialized()
    # (a name that never resolves: this sandbox's network accepts TCP connections to any address)
    with pytest.raises(ConnectionError, match="no Ray cluster answers"):  # allowed, loudly; nobody there
        with RayConnection(address="ray-head.invalid:6379", connect_timeout_s=1, allow_insecure=True):
            pass
    assert any("INSECURE" in r.getMessage() for r in caplog.records)
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    with pytest.raises(ConnectionError, match="no Ray cluster answers"):  # authentication on: no objection
        with RayConnection(address="ray-head.invalid:6379", connect_timeout_s=1):
            pass


def test_address_parsing_and_loopback():
    assert address_host_port("ray://10.0.0.5:10001") == ("10.0.0.5", 10001)
    assert address_host_port("[::1]:6379") == ("::1", 6379)
    assert address_host_port("auto") is None
    assert all(is_loopback(h) for h in ("127.0.0.1", "::1", "::ffff:127.0.0.1", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "10.1.2.3", ""))


def test_a_failed_connect_leaves_the_sigterm_handler_alone(monkeypatch):
    """No __exit__ runs when __enter__ fails, so the run's SIGTERM handler must not be left installed."""
    import signal

    before = signal.getsignal(signal.SIGTERM)
    connection = RayConnection(address="ray-head.invalid:6379", connect_timeout_s=0.5)
    with pytest.raises(Exception, match=r"ray-head\.invalid"):
        connection.__enter__()
    assert signal.getsignal(signal.SIGTERM) == before
