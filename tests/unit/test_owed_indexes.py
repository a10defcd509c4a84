"""`OwedIndexBuilds` runs the builds of what is owed on a thread of its own: every `owe`
is covered by a run that starts after it, runs asked for while one waits are one, a
failed run leaves what is owed for the next, and `close` waits for what was asked."""

from __future__ import annotations

import threading

from projections.owed_indexes import OwedIndexBuilds


class Builds:
    """A `build` that counts its runs, can be held at its start, and fails on demand."""

    def __init__(self) -> None:
        self.runs = 0
        self.release = threading.Event()
        self.release.set()
        self.started = threading.Event()
        self.fail = False

    def __call__(self) -> int:
        self.started.set()
        self.release.wait(5)
        self.runs += 1
        if self.fail:
            raise ConnectionError("the server went away")
        return 2


def test_owe_runs_the_builds_on_a_thread_and_drain_waits_for_them() -> None:
    builds = Builds()
    owed = OwedIndexBuilds(builds)
    builds.release.clear()
    owed.owe()
    assert builds.started.wait(5)
    assert owed.drain(timeout=0.05) is False  # held: still running
    builds.release.set()
    assert owed.drain(timeout=5) is True
    assert builds.runs == 1
    owed.close()


def test_calls_while_a_run_waits_to_start_are_one_run() -> None:
    builds = Builds()
    owed = OwedIndexBuilds(builds)
    builds.release.clear()
    owed.owe()  # starts, held
    assert builds.started.wait(5)
    for _ in range(5):
        owed.owe()  # the first queues a run after the held one; the rest join it
    builds.release.set()
    owed.close()
    assert builds.runs == 2


def test_a_failed_run_is_logged_and_the_next_owe_runs_again() -> None:
    builds = Builds()
    owed = OwedIndexBuilds(builds)
    builds.fail = True
    owed.owe()
    assert owed.drain(timeout=5) is True  # the failure does not escape the thread
    builds.fail = False
    owed.owe()
    owed.close()
    assert builds.runs == 2


def test_close_without_any_owe_starts_nothing() -> None:
    builds = Builds()
    owed = OwedIndexBuilds(builds)
    assert owed.drain() is True
    owed.close()
    assert builds.runs == 0
