"""`tests/threads.py` fails a test for what its threads did: the other tests rely on it."""

from __future__ import annotations

import threading

import pytest
from threads import Threads


class BoomError(Exception):
    pass


def explode() -> None:
    raise BoomError


def test_join_raises_the_first_exception_a_thread_raised() -> None:
    started = Threads()
    first = threading.Event()

    def explode_first() -> None:
        first.set()
        raise BoomError

    def explode_second() -> None:
        first.wait(10)
        raise ValueError

    started.start(explode_first)
    started.start(explode_second)
    with pytest.raises(BoomError) as raised:
        started.join(timeout=10)
    assert raised.value.__traceback__ is not None  # the thread's own traceback
    assert [type(error) for error in started.errors] == [BoomError, ValueError]


def test_check_raises_while_the_other_threads_still_run() -> None:
    started, release = Threads(), threading.Event()
    started.start(release.wait, 10)
    started.start(explode)
    started.started[-1].join(10)
    try:
        with pytest.raises(BoomError):
            started.check()
    finally:
        release.set()
    with pytest.raises(BoomError):
        started.join(timeout=10)


def test_join_fails_when_a_thread_is_still_running() -> None:
    started, release = Threads(), threading.Event()
    started.start(release.wait, 10)
    try:
        with pytest.raises(AssertionError, match="still running"):
            started.join(timeout=0.05)
    finally:
        release.set()
    started.join(timeout=10)


def test_threads_that_end_well_pass_and_get_their_arguments() -> None:
    started, seen = Threads(), list[int]()
    for number in range(3):
        started.start(seen.append, number)
    started.check()
    started.join(timeout=10)
    assert sorted(seen) == [0, 1, 2]
    assert [thread.name for thread in started.started] == ["append"] * 3
