"""`join_all` keeps the main thread answering signals that another thread received."""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType

from engine.threads import join_all


def test_a_signal_taken_by_another_thread_is_handled_while_joining() -> None:
    stop = threading.Event()
    handled: list[bool] = []

    def on_signal(number: int, frame: FrameType | None) -> None:
        del number, frame
        handled.append(threading.current_thread() is threading.main_thread())
        stop.set()

    def follower() -> None:
        time.sleep(0.2)  # until the main thread waits in the join
        signal.pthread_kill(threading.get_ident(), signal.SIGUSR2)  # delivered to this thread
        stop.wait(timeout=20)  # as a projector thread: ends when the handler sets `stop`

    previous = signal.signal(signal.SIGUSR2, on_signal)
    try:
        thread = threading.Thread(target=follower, daemon=True)
        started = time.monotonic()
        thread.start()
        join_all([thread], tick=0.05)
        waited = time.monotonic() - started
    finally:
        signal.signal(signal.SIGUSR2, previous)
    assert handled == [True]  # Python runs handlers on the main thread only
    assert waited < 10, f"the handler ran only after the thread gave up ({waited:.1f}s)"


def test_join_all_returns_once_every_thread_has_ended() -> None:
    ended: list[int] = []

    def work(n: int) -> None:
        time.sleep(0.01 * n)
        ended.append(n)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    join_all(threads, tick=0.01)
    assert sorted(ended) == [0, 1, 2, 3]
    assert not any(thread.is_alive() for thread in threads)
