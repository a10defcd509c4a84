"""Threads a test starts, whose exceptions fail that test.

An exception in a plain `threading.Thread` is printed and lost: the test goes on and may
pass. `Threads.join` re-raises the first one in the test, with its own traceback, and fails
the test if a thread is still running. (pyproject.toml also turns pytest's
unhandled-thread-exception warning into an error, for threads started any other way.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class Threads:
    def __init__(self) -> None:
        self.started: list[threading.Thread] = []
        self.errors: list[BaseException] = []

    def start(self, target: Callable[..., object], *args: object) -> threading.Thread:
        def run() -> None:
            try:
                target(*args)
            except BaseException as error:  # noqa: BLE001 - handed to the test by `join`
                self.errors.append(error)

        thread = threading.Thread(target=run, name=getattr(target, "__name__", "test-thread"))
        self.started.append(thread)
        thread.start()
        return thread

    def check(self) -> None:
        """Raise the first exception a thread has raised so far: a test that waits on its
        threads in a loop calls this on each pass, to fail at once rather than time out."""
        if self.errors:
            raise self.errors[0]

    def join(self, timeout: float = 30.0) -> None:
        """Wait for every thread; raise the first exception one of them raised."""
        for thread in self.started:
            thread.join(timeout)
        self.check()
        alive = [thread.name for thread in self.started if thread.is_alive()]
        assert not alive, f"threads still running after {timeout} s: {alive}"
