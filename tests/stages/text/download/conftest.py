"""A local HTTP server (127.0.0.1) serving a folder, with byte ranges, request counts and injected faults."""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Faults:
    """Per-path faults: answer 503 to the first N requests or always, or cut a body at an offset."""

    fail_first: dict[str, int] = field(default_factory=dict)
    always_fail: set[str] = field(default_factory=set)
    cut_at: dict[str, int] = field(default_factory=dict)  # close the first response crossing this offset


class CrawlServer:
    """Serves `root` on 127.0.0.1; counts GET requests per path and the byte ranges asked for."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.faults = Faults()
        self.gets: Counter[str] = Counter()
        self.ranges: list[tuple[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _file(self) -> str | None:
                path = os.path.normpath(os.path.join(server.root, self.path.split("?")[0].lstrip("/")))
                if os.path.isdir(path):
                    path = os.path.join(path, "index.html")
                return path if path.startswith(server.root) and os.path.isfile(path) else None

            def do_HEAD(self) -> None:
                path = self._file()
                if path is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(os.path.getsize(path)))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()

            def do_GET(self) -> None:
                route = self.path.split("?")[0]
                server.gets[route] += 1
                if route in server.faults.always_fail or server.faults.fail_first.get(route, 0) > 0:
                    if route in server.faults.fail_first:
                        server.faults.fail_first[route] -= 1
                    self.send_error(503)
                    return
                path = self._file()
                if path is None:
                    self.send_error(404)
                    return
                with open(path, "rb") as handle:
                    data = handle.read()
                start, end, status = 0, len(data) - 1, 200
                requested = self.headers.get("Range")
                if requested and requested.startswith("bytes="):
                    server.ranges.append((route, requested))
                    first, _, last = requested[6:].partition("-")
                    start = int(first or 0)
                    end = min(int(last), len(data) - 1) if last else len(data) - 1
                    status = 206
                body = data[start : end + 1]
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Accept-Ranges", "bytes")
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
                self.end_headers()
                cut = server.faults.cut_at.get(route)
                if cut is not None and start <= cut <= end:
                    del server.faults.cut_at[route]
                    self.wfile.write(body[: cut - start])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> CrawlServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def crawl_server(tmp_path) -> Iterator[CrawlServer]:
    """A server over `tmp_path / "site"` (created empty)."""
    root = tmp_path / "site"
    root.mkdir()
    with CrawlServer(str(root)) as server:
        yield server
