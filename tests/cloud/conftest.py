"""A real S3 API server (moto's server mode) on 127.0.0.1 for the object-storage tests.

The server runs as its own process and records every request it serves (moto's recorder),
so tests can check what reached the store (no temporary keys, no copies). Credentials reach
raycurator the standard way: the `AWS_*` environment variables (boto3/s3fs read them); the
shared Ray is restarted with them so its workers see them too, and restarted again afterwards.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

pytest.importorskip("s3fs", reason="the cloud extra (s3fs, moto[server]) is not installed")
pytest.importorskip("moto.server", reason="the cloud extra (s3fs, moto[server]) is not installed")

#: The secret of the test credentials: tests check it never shows in logs, reports or errors.
SECRET = "s3cr3t-" + uuid.uuid4().hex


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def start_moto(host: str, port: int, recording: Path, prefix: list[str] | None = None) -> subprocess.Popen:
    """`python -m moto.server` listening on host:port (optionally run under `prefix`, e.g. `ip netns exec`)."""
    env = {**os.environ, "MOTO_ENABLE_RECORDING": "1", "MOTO_RECORDER_FILEPATH": str(recording)}
    return subprocess.Popen(
        [*(prefix or []), sys.executable, "-m", "moto.server", "-H", host, "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def wait_listening(host: str, port: int, process: subprocess.Popen, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the S3 server exited with {process.returncode}")
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the S3 server did not listen on {host}:{port} within {timeout_s} s")


@dataclass
class S3Server:
    """The running server: its endpoint, the recording of requests, a boto3 client."""

    endpoint: str
    recording: Path
    process: subprocess.Popen

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id="testing-key-id",
            aws_secret_access_key=SECRET,
            region_name="us-east-1",
        )

    def bucket(self) -> str:
        """A new, empty bucket."""
        name = "rc-" + uuid.uuid4().hex[:12]
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))

    def get(self, bucket: str, key: str) -> bytes:
        return self.client().get_object(Bucket=bucket, Key=key)["Body"].read()

    def requests(self, bucket: str) -> list[tuple[str, str, bool]]:
        """(method, key, is a copy) of every recorded request on `bucket` (path-style or virtual-host)."""
        found = []
        if not self.recording.exists():
            return found
        for line in self.recording.read_text().splitlines():
            entry = json.loads(line)
            parts = urlsplit(entry["url"])
            host = (entry["headers"].get("Host") or parts.hostname or "").split(":")[0]
            path = unquote(parts.path)
            if host.startswith(bucket + "."):
                key = path.lstrip("/")
            elif path.startswith(f"/{bucket}/") or path == f"/{bucket}":
                key = path[len(bucket) + 2 :]
            else:
                continue
            copy = any(h.lower() == "x-amz-copy-source" for h in entry["headers"])
            found.append((entry["method"], key, copy))
        return found


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """An S3 API server on 127.0.0.1 for the whole session."""
    port = free_port()
    recording = tmp_path_factory.mktemp("moto") / "requests.jsonl"
    process = start_moto("127.0.0.1", port, recording)
    try:
        wait_listening("127.0.0.1", port, process)
        yield S3Server(f"http://127.0.0.1:{port}", recording, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _aws_environment(monkeypatch: pytest.MonkeyPatch, server: S3Server) -> None:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing-key-id")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.endpoint)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Server]:
    """The standard AWS environment variables pointing at the server (this process only)."""
    _aws_environment(monkeypatch, s3_server)
    yield s3_server
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture(scope="module")
def s3_ray(s3_server: S3Server, ray_session) -> Iterator[S3Server]:
    """The AWS environment for this module's tests, seen by the shared Ray's workers as well.

    The shared Ray is restarted once with the environment, and stopped after the module, so
    later tests get a Ray without these variables.
    """
    with pytest.MonkeyPatch.context() as monkeypatch:
        _aws_environment(monkeypatch, s3_server)
        ray_session.suspend()
        ray_session.ensure()
        try:
            yield s3_server
        finally:
            ray_session.suspend()
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()
