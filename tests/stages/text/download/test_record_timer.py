"""`RecordTimer`: one handler per run of records, a fresh limit per record."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from raycurator.stages.text.download.base.time_limit import RecordTimeoutError, RecordTimer


def _spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def test_each_record_gets_its_own_limit_and_the_handler_is_restored():
    before = signal.getsignal(signal.SIGALRM)
    outer = signal.getitimer(signal.ITIMER_REAL)[0]  # e.g. pytest-timeout's own alarm
    timed_out = []
    with RecordTimer(0.2) as timer:
        assert signal.getsignal(signal.SIGALRM) is not before
        for seconds in (0.05, 5.0, 0.05, 0.15):  # 0.15 s: under the limit once re-armed
            try:
                try:
                    timer.arm()
                    _spin(seconds)
                finally:
                    timer.disarm()
            except RecordTimeoutError:
                timed_out.append(seconds)
    assert timed_out == [5.0]
    assert signal.getsignal(signal.SIGALRM) is before
    if outer:  # a running alarm is set again, less the time spent
        assert 0 < signal.getitimer(signal.ITIMER_REAL)[0] < outer
    else:
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


@pytest.mark.parametrize("seconds", [None, 0, -1])
def test_no_limit_installs_nothing(seconds):
    before = signal.getsignal(signal.SIGALRM)
    outer = signal.getitimer(signal.ITIMER_REAL)[0]
    with RecordTimer(seconds) as timer:
        timer.arm()
        assert signal.getsignal(signal.SIGALRM) is before
        assert signal.getitimer(signal.ITIMER_REAL)[0] <= outer  # not armed
        timer.disarm()


def test_outside_the_main_thread_the_record_runs_unbounded():
    result = []

    def work() -> None:
        with RecordTimer(0.05) as timer:
            timer.arm()
            _spin(0.2)
            timer.disarm()
        result.append("done")

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(10)
    assert result == ["done"]
