"""Progress of a Ray Data run, so that a run that stops moving ends with an error instead of hanging.

A `ProgressBeacon` actor (no CPU) holds the time of the run's last sign of activity. Every
stage UDF signals while it sets a stage up and while it processes a batch (at the start, every
`interval_s` seconds meanwhile, and at the end), so a slow batch or a slow model load counts as
progress, and only a run in which nothing runs at all (every operator waiting for resources
that never free) goes silent. The driver reads the beacon (`ProgressWatch`) and stops the run
after `stall_timeout_s` seconds of silence.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import ray


@ray.remote(num_cpus=0, max_restarts=0)
class ProgressBeacon:
    """The time of the last activity of a run, and how many signals it got."""

    def __init__(self) -> None:
        self.last = time.time()
        self.signals = 0

    def signal(self) -> None:
        self.last = time.time()
        self.signals += 1

    def read(self) -> tuple[float, int]:
        return self.last, self.signals


@contextmanager
def active(beacon: Any, interval_s: float) -> Iterator[None]:
    """Signal `beacon` now, every `interval_s` seconds while the block runs, and at its end."""
    if beacon is None:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval_s):
            beacon.signal.remote()

    beacon.signal.remote()
    thread = threading.Thread(target=beat, name="raycurator-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=interval_s + 1)
        beacon.signal.remote()


class ProgressWatch:
    """The driver's view of a beacon: seconds since its signal count last changed (driver's clock)."""

    def __init__(self, beacon: Any) -> None:
        self.beacon = beacon
        self.last_change = time.monotonic()
        self.signals = -1

    def silence_s(self) -> float:
        try:
            _, signals = ray.get(self.beacon.read.remote(), timeout=10)
            if signals != self.signals:
                self.signals, self.last_change = signals, time.monotonic()
        except (ray.exceptions.GetTimeoutError, ray.exceptions.RayActorError):
            pass  # an unreachable beacon is no sign of activity
        return time.monotonic() - self.last_change
