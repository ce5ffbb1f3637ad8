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
