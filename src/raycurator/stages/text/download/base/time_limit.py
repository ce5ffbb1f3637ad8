"""A per-record time limit that interrupts slow Python code with `SIGALRM`.

The alarm interrupts Python code (extraction heuristics, regular-expression loops written in
Python, user extractors) at the next bytecode boundary; a single call into C code that never
returns to Python cannot be interrupted this way. The limit applies in the main thread (where
Ray runs the methods of single-threaded actors and the local executor runs stages); in any
other thread the code runs unbounded, with a warning logged once.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

logger = logging.getLogger(__name__)
_warned_thread = False


class RecordTimeoutError(BaseException):
    """A record's processing ran past its time limit.

    A `BaseException` (like `KeyboardInterrupt`), so that `except Exception` blocks inside
    extraction libraries and user code do not swallow it.
    """


@contextmanager
def record_time_limit(seconds: float | None) -> Iterator[None]:
    """Raise `RecordTimeoutError` inside the block when it runs longer than `seconds`."""
    global _warned_thread
    if not seconds or seconds <= 0:
        yield
        return
    if threading.current_thread() is not threading.main_thread():
        if not _warned_thread:
            _warned_thread = True
            logger.warning("per-record time limit not enforced outside the main thread")
        yield
        return

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        raise RecordTimeoutError(f"record took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class RecordTimer:
    """The per-record limit for a run of many records: the `SIGALRM` handler is installed once
    (`with RecordTimer(seconds) as timer:`), and each record only arms and disarms the timer
    (`timer.arm()` / `timer.disarm()`), two system calls instead of re-installing the handler.

    Outside the main thread, or with no limit, arming does nothing (a warning is logged once).
    An alarm timer that was already running when the block began (another user of `SIGALRM`)
    is set again, less the time spent, when it ends.
    """

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds if seconds and seconds > 0 else None
        self._active = False
        self._previous: object = None
        self._previous_timer = (0.0, 0.0)
        self._entered = 0.0

    def _on_alarm(self, signum: int, frame: FrameType | None) -> None:
        raise RecordTimeoutError(f"record took longer than {self.seconds} s")

    def __enter__(self) -> RecordTimer:
        global _warned_thread
        if self.seconds is None:
            return self
        if threading.current_thread() is not threading.main_thread():
            if not _warned_thread:
                _warned_thread = True
                logger.warning("per-record time limit not enforced outside the main thread")
            return self
        self._previous_timer = signal.getitimer(signal.ITIMER_REAL)
        self._entered = time.monotonic()
        self._previous = signal.signal(signal.SIGALRM, self._on_alarm)
        self._active = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._active:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._previous)  # type: ignore[arg-type]
            self._active = False
            remaining, interval = self._previous_timer
            if remaining > 0:
                left = remaining - (time.monotonic() - self._entered)
                signal.setitimer(signal.ITIMER_REAL, max(left, 0.001), interval)

    def arm(self) -> None:
        """Start the limit for one record."""
        if self._active:
            signal.setitimer(signal.ITIMER_REAL, self.seconds)  # type: ignore[arg-type]

    def disarm(self) -> None:
        """Stop the limit after the record (also when it raised)."""
        if self._active:
            signal.setitimer(signal.ITIMER_REAL, 0)
