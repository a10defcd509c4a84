"""A lease held by a worker, renewed from a thread of its own while the job runs.

Heartbeats are not events: they update the queue row only. When a heartbeat finds the lease
gone (taken over after a stall, or the job cancelled), the job's next checkpoint raises
LeaseLostError; its writes would be rejected by the lease fence anyway.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType
from typing import Self
from uuid import UUID

from engine.domain.job import LeaseLostError
from engine.ports import JobProgress, JobQueue

logger = logging.getLogger(__name__)


class ShutdownRequestedError(Exception):
    """The worker is asked to stop now: release the lease at the next checkpoint."""


class Lease:
    """A claimed job's lease: its token, its progress and the thread that renews it."""

    def __init__(
        self,
        queue: JobQueue,
        job_id: UUID,
        token: str,
        interval_seconds: float,
        abandon: threading.Event,
    ) -> None:
        self.queue = queue
        self.job_id = job_id
        self.token = token
        self.interval_seconds = interval_seconds
        self.abandon = abandon
        self.lost = threading.Event()
        self.progress = JobProgress("claimed", 0, 0)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._renew, name=f"lease-{job_id}", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._done.set()
        self._thread.join()

    def report(self, phase: str, rows_processed: int, rows_total: int) -> None:
        """Record progress and stop if we must. A new phase is shown at once; row counts
        go with the next heartbeat."""
        new_phase = phase != self.progress.phase
        self.progress = JobProgress(phase, rows_processed, rows_total)
        if new_phase:
            self.beat()
        self.checkpoint()

    def checkpoint(self) -> None:
        if self.lost.is_set():
            raise LeaseLostError(f"job {self.job_id}: lease {self.token} was taken over")
        if self.abandon.is_set():
            raise ShutdownRequestedError

    def beat(self) -> None:
        if not self.queue.heartbeat(self.job_id, self.token, self.progress):
            logger.warning("job %s: lease %s lost", self.job_id, self.token)
            self.lost.set()

    def _renew(self) -> None:
        while not self._done.wait(self.interval_seconds) and not self.lost.is_set():
            try:
                self.beat()
            except Exception:
                # A failed heartbeat is retried at the next tick; the lease expires only
                # if the database stays unreachable for the whole lease period.
                logger.exception("job %s: heartbeat failed", self.job_id)
