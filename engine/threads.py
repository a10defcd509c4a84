"""Joining threads from the main thread without deafening it to signals.

A `Thread.join()` without a timeout waits on a lock that only a signal delivered to the
main thread interrupts. The kernel hands a process-directed signal (SIGTERM from a
supervisor) to any thread that does not block it; when a worker or projector thread
takes it, the main thread sleeps on and the Python handler never runs, so the process
ignores its stop signal. A join with a timeout returns every `tick` seconds, and the
interpreter runs pending handlers each time it does.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

TICK_SECONDS = 0.25


def join_all(threads: Iterable[threading.Thread], tick: float = TICK_SECONDS) -> None:
    """Wait for every thread to end, running signal handlers at least every `tick`."""
    for thread in threads:
        while thread.is_alive():
            thread.join(timeout=tick)
