"""CPU seconds spent by this process's descendants (the local Ray cluster and its workers).

Wall-clock ratios mean little on a machine shared with other jobs; CPU seconds do not depend on
how many other processes wait for the cores, so a benchmark can compare the CPU a run cost with
the CPU its baseline cost. `DescendantCpu` samples the user+system CPU time of every descendant
process in a thread and keeps each process's last value, so processes that exit during the run
still count (up to one sampling interval of their time may be missed).
"""

from __future__ import annotations

import threading

import psutil


class DescendantCpu:
    """`with DescendantCpu() as cpu: ...` then `cpu.seconds`: CPU seconds of descendants during the block."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.seconds = 0.0
        self._start: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> dict[int, float]:
        values = {}
        for proc in psutil.Process().children(recursive=True):
            try:
                times = proc.cpu_times()
                values[proc.pid] = times.user + times.system
            except psutil.Error:
                pass
        return values

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._last.update(self._sample())

    def __enter__(self) -> DescendantCpu:
        self._start = self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._last.update(self._sample())
        self.seconds = sum(value - self._start.get(pid, 0.0) for pid, value in self._last.items())
