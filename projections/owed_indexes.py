"""The review's indexes of a published job, built after its publication (ADR 0024).

A large job's partition is published once the indexes its result pages, exports and stats
read are built; the indexes only the review reads (a group's rows, the review queue, an
open item by its id, the exception queue) are built next, on a thread of the process that
published it, while the results are already served. Until they are, the review's queries
and writes on that job read the partition whole: slower, never wrong.

What is owed is read from the catalog (`job_partitions.owed_statements`), not kept in a
table: a process that exits or dies before its builds finish leaves them owed, and the
next process that opens the read models builds them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait

logger = logging.getLogger(__name__)


class OwedIndexBuilds:
    """Runs `build` (every owed index built; returns how many) on a thread of its own,
    once per `owe`, coalescing the calls made while one run waits to start."""

    def __init__(self, build: Callable[[], int]) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._waiting: Future[int] | None = None  # a run not started yet
        self._runs: list[Future[int]] = []

    def owe(self) -> None:
        """Build what is owed, soon: a run starts unless one is already waiting to."""
        with self._lock:
            # a run that has not started reads the catalog after this call's caller
            # committed what it owes: it covers this call too
            waiting = self._waiting
            if waiting is not None and not waiting.running() and not waiting.done():
                return
            if self._pool is None:
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="owed-index-builds")
            self._waiting = self._pool.submit(self._run)
            self._runs = [run for run in self._runs if not run.done()] + [self._waiting]

    def drain(self, timeout: float | None = None) -> bool:
        """Wait for the runs asked for so far; whether they all finished in `timeout`."""
        with self._lock:
            runs = list(self._runs)
        return not wait(runs, timeout=timeout).not_done

    def close(self) -> None:
        """Finish the runs asked for (a process exits with nothing half-built that it
        started), then stop the thread."""
        self.drain()
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def _run(self) -> int:
        try:
            built = self._build()
        except Exception:  # a lost connection, a server going away: still owed, not lost
            logger.warning("owed index builds failed; they stay owed", exc_info=True)
            return 0
        if built:
            logger.info("built %d owed review indexes", built)
        return built
