"""The Merkle root over a job's decisions, hashed in a process of its own for large jobs
where it is hashed in Python.

Where `engine._merkle` is built (`decision_proofs.NATIVE`, ADR 0021) the root is hashed in
C with the GIL released, in the calling thread, and no child is started: the child's
start and the copy of the decisions cost more than the hashing then does. Otherwise:
a leaf is a SHA-256 of a short row, so hashing a million decisions is a million Python
calls that hold the GIL throughout: in a thread of the worker it would stall the recording
of the same job and, on the embedded default, the projector threads in the same process.
A job of `offload_rows` decisions or more is hashed in a child process instead, which has
a GIL of its own; the worker only serializes the columns the leaves read (Arrow IPC) and
signs the root that comes back. A smaller job is hashed in the calling thread, where a
child's start and the copy would cost more than they save.

The root is a pure function of the decisions, so where it is computed changes nothing
that is recorded; a child that dies (killed, out of memory) costs a retry in the calling
thread, never a job.
"""

from __future__ import annotations

import logging
import multiprocessing
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import polars as pl

from engine.decision_proofs import LEAF_COLUMNS, NATIVE, root_of

logger = logging.getLogger(__name__)

OFFLOAD_ROWS = 100_000
"""Decisions from which the root is hashed in the child process (hashed in Python)."""
NEVER = sys.maxsize


def _root_from_ipc(payload: bytes) -> tuple[bytes, int]:
    """In the child: the root over decisions sent as Arrow IPC."""
    return root_of(pl.read_ipc(payload))


def _ready() -> None:
    """In the child: nothing; its import of this module is the warm-up."""


class RootHasher:
    """Hashes decision roots, in one long-lived child process for large jobs.

    Shared by a worker's job loops; the child is started on first need (`warm`) and kept
    until `close`, so a worker pays its start once, not per job.
    """

    def __init__(self, offload_rows: int | None = None) -> None:
        """`offload_rows`: decisions from which the child hashes; by default OFFLOAD_ROWS
        where the root is hashed in Python, never where it is hashed in C."""
        if offload_rows is None:
            offload_rows = NEVER if NATIVE else OFFLOAD_ROWS
        self.offload_rows = offload_rows
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None

    def warm(self, rows: int) -> None:
        """Start the child now if a job of `rows` input rows may need it, so its start
        overlaps the matching instead of the recording."""
        if rows >= self.offload_rows:
            self._executor().submit(_ready)

    def start(self, matches: pl.DataFrame) -> Callable[[], tuple[bytes, int]]:
        """Start hashing `matches`; the returned call gives the Merkle root and the number
        of leaves (`root_of`), waiting for the child if it hashes them."""
        if matches.height < self.offload_rows:
            done = root_of(matches)
            return lambda: done
        payload = matches.select(LEAF_COLUMNS).write_ipc(None).getvalue()
        try:
            future = self._executor().submit(_root_from_ipc, payload)
        except BrokenProcessPool:  # the child died since the last job: start another
            self._discard()
            future = self._executor().submit(_root_from_ipc, payload)

        def result() -> tuple[bytes, int]:
            try:
                return future.result()
            except BrokenProcessPool:
                logger.warning("the hashing process died; hashing the decisions in this thread")
                self._discard()
                return root_of(matches)

        return result

    def close(self) -> None:
        """Stop the child, if one was started."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                # spawn: a fork would copy the worker's threads' locks mid-use (polars'
                # thread pool does not survive a fork)
                self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
            return self._pool

    def _discard(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
