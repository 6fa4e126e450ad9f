"""Loaded (through PYTHONPATH) only by ``tests/faketime.sh``, in every Python process of that run.

libfaketime 0.9.10 (Debian 12) cannot fake the monotonic clock for Python: CPython waits on locks
with ``sem_clockwait(CLOCK_MONOTONIC)``, which it does not wrap, so every ``Event.wait(timeout)``
or ``queue.get(timeout=…)`` would wait for years. The run therefore keeps the monotonic clock real
(``--exclude-monotonic``), but then its ``clock_nanosleep`` wrapper answers the absolute monotonic
deadline of ``time.sleep`` with EINVAL. This makes ``time.sleep`` wait with ``select`` instead, on
the real monotonic clock. Nothing else changes: dates and instants are faked as libfaketime does.
"""

import os
import select
import time

if os.environ.get("FAKETIME") or "faketime" in os.environ.get("LD_PRELOAD", ""):
    _monotonic = time.monotonic

    def _sleep(seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        end = _monotonic() + seconds
        while (left := end - _monotonic()) > 0:
            select.select([], [], [], left)

    time.sleep = _sleep
