"""`raycurator up` / `raycurator down`: a local Ray cluster kept running between runs.

Starting Ray takes most of a small run's time. `up` starts a head node on this machine once
(`ray start --head --block` in its own session, every port on loopback, token authentication
on, no dashboard) and records where it listens in a small state file; `run --address auto` then
joins it instead of starting Ray, and `down` stops it. The state file holds the address, the
process id and the log path only (the authentication token stays in Ray's own
`~/.ray/auth_token`). It lives in `~/.raycurator/local_cluster.json`, or where the
`RAYCURATOR_CLUSTER_FILE` environment variable says.

Why `ray start --block` rather than a plain `ray start`: the blocking process owns the Ray
processes it started, so `down` stops exactly this cluster (SIGTERM to that one process; Ray's
reaper cleans up if it is killed) and never other Ray instances on the machine, which
`ray stop` would.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from raycurator.utils.ray_local import CLUSTER_FLAG_ENV

logger = logging.getLogger(__name__)

#: Environment variable naming the state file of the `raycurator up` cluster.
STATE_FILE_ENV = "RAYCURATOR_CLUSTER_FILE"
DEFAULT_STATE_FILE = Path.home() / ".raycurator" / "local_cluster.json"
#: What `ray start` prints once the head node is up.
READY_LINE = "Ray runtime started"
START_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 60.0


class ClusterError(RuntimeError):
    """The local cluster could not be started, found or stopped."""


@dataclass(frozen=True)
class LocalCluster:
    """A cluster started by `raycurator up`, as its state file records it."""

    address: str  # host:port of its GCS
    pid: int  # the `ray start --block` process that owns the cluster's processes
    log_path: str
    num_cpus: int | None
    started_at: float
    auth_mode: str = "token"  # RAY_AUTH_MODE the cluster runs with; a driver joining it needs the same

    def is_running(self) -> bool:
        """Whether its owning process is alive and its GCS accepts connections."""
        if not _owner_alive(self.pid):
            return False
        host, _, port = self.address.rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=2.0):
                return True
        except (OSError, ValueError):
            return False


def state_file() -> Path:
    """Where the state of the `raycurator up` cluster is kept."""
    value = os.environ.get(STATE_FILE_ENV)
    return Path(value).expanduser() if value else DEFAULT_STATE_FILE


def read_state() -> LocalCluster | None:
    """The recorded cluster, or None (no file, or a file this version cannot read)."""
    try:
        data = json.loads(state_file().read_text(encoding="utf-8"))
        return LocalCluster(**data)
    except (OSError, ValueError, TypeError):
        return None


def _write_state(cluster: LocalCluster) -> None:
    path = state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(cluster), indent=2), encoding="utf-8")
    os.replace(tmp, path)


def _clear_state() -> None:
    try:
        state_file().unlink()
    except FileNotFoundError:
        pass


def _owner_alive(pid: int) -> bool:
    """Whether `pid` is a live `ray start` process (a reused pid of another program is not)."""
    import psutil

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        command = " ".join(process.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
    return "start" in command and "--head" in command and "--block" in command


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _ray_command() -> list[str]:
    """The `ray` command of this Python environment."""
    script = Path(sys.executable).with_name("ray")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from ray.scripts.scripts import main; main()"]


def _ensure_token(env: dict[str, str]) -> None:
    """Make sure Ray's authentication token exists (`ray get-auth-token --generate`; its output,
    the token itself, is discarded)."""
    done = subprocess.run(
        [*_ray_command(), "get-auth-token", "--generate"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
        timeout=120,
    )
    if done.returncode != 0:
        raise ClusterError(f"could not create Ray's authentication token: {done.stderr.strip()[-500:]}")


#: `ray start` gives a node 30 s to come up (not configurable); on a loaded machine we try again.
START_ATTEMPTS = 3


def start_cluster(num_cpus: int | None = None, port: int | None = None) -> tuple[LocalCluster, bool]:
    """Start the local cluster, or find the one already running; returns (cluster, started now)."""
    running = read_state()
    if running is not None and running.is_running():
        return running, False
    for attempt in range(1, START_ATTEMPTS + 1):
        try:
            return _start_once(num_cpus, port), True
        except ClusterError as error:
            if attempt == START_ATTEMPTS:
                raise
            logger.warning("starting the local cluster failed (%s); trying again", str(error).splitlines()[0])
    raise AssertionError("unreachable")


def _start_once(num_cpus: int | None, port: int | None) -> LocalCluster:
    port = port or _free_port()
    path = state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    log_path = path.with_name(f"local_cluster-{port}.log")
    env = dict(os.environ)
    env[CLUSTER_FLAG_ENV] = "0"  # every port of the node on 127.0.0.1 (see raycurator.utils.ray_local)
    env.setdefault("RAY_AUTH_MODE", "token")
    env.pop("RAY_ADDRESS", None)
    if env["RAY_AUTH_MODE"].strip().lower() == "token":
        _ensure_token(env)
    command = [
        *_ray_command(),
        "start",
        "--head",
        "--block",
        f"--port={port}",
        "--node-ip-address=127.0.0.1",
        "--include-dashboard=false",
        "--disable-usage-stats",
    ]
    if num_cpus is not None:
        command.append(f"--num-cpus={num_cpus}")
    with open(log_path, "w", encoding="utf-8") as log:
        process = subprocess.Popen(
            command, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    auth_mode = env["RAY_AUTH_MODE"].strip().lower()
    cluster = LocalCluster(f"127.0.0.1:{port}", process.pid, str(log_path), num_cpus, time.time(), auth_mode)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        text = log_path.read_text(encoding="utf-8", errors="replace")
        if READY_LINE in text and cluster.is_running():
            break
        code = process.poll()
        if code is not None or time.monotonic() > deadline:
            if code is None:
                _stop_process(process.pid)
            tail = "\n".join(text.strip().splitlines()[-15:])
            why = f"exited with code {code}" if code is not None else f"was not up after {START_TIMEOUT_S:g} s"
            raise ClusterError(f"`ray start` {why}; its log ({log_path}) ends with:\n{tail}")
        time.sleep(0.2)
    _write_state(cluster)
    return cluster


def _stop_process(pid: int) -> bool:
    """SIGTERM `pid` (the owner stops its Ray processes), SIGKILL after a while; whether it ended."""
    import psutil

    try:
        process = psutil.Process(pid)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_S)
        except psutil.TimeoutExpired:
            process.kill()  # Ray's reaper, watching this process, then kills the rest
            process.wait(10)
    except psutil.NoSuchProcess:
        return True
    except psutil.TimeoutExpired:
        return False
    return True


def stop_cluster() -> LocalCluster | None:
    """Stop the recorded cluster; returns it, or None when none was recorded."""
    cluster = read_state()
    if cluster is None:
        return None
    if _owner_alive(cluster.pid) and not _stop_process(cluster.pid):
        raise ClusterError(f"the local cluster's process {cluster.pid} did not stop")
    _clear_state()
    return cluster


def resolve_address(address: str | None) -> str | None:
    """`auto` means the `raycurator up` cluster when one is running: its loopback address (so the
    driver joins on loopback too), and this process's RAY_AUTH_MODE set to the cluster's when unset
    (Ray reads the token for an explicit address only in token mode). Anything else, and `auto`
    without such a cluster, is passed on to Ray unchanged."""
    if address != "auto":
        return address
    cluster = read_state()
    if cluster is not None and cluster.is_running():
        os.environ.setdefault("RAY_AUTH_MODE", cluster.auth_mode)
        return cluster.address
    return address
