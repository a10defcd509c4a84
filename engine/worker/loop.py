"""A worker: N threads that take over stale leases, retry due jobs, claim and run jobs."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from engine.application import Tieout
from engine.commitment import Signer
from engine.domain.job import Job, RetryPolicy
from engine.domain.meta import event_meta
from engine.errors import ConflictError, NotFoundError
from engine.ports import JobQueue, ObjectStore
from engine.threads import join_all
from engine.worker.heartbeat import Lease
from engine.worker.runner import JobContext, run_claimed

logger = logging.getLogger(__name__)
SCAN_LIMIT = 10


@dataclass(frozen=True)
class WorkerConfig:
    """The worker's settings (TIEOUT_* in tieout/settings.py)."""

    name: str
    concurrency: int
    lease_seconds: float
    heartbeat_seconds: float
    poll_seconds: float
    batch_size: int
    policy: RetryPolicy
    signer: Signer | None = None
    """Signs each completed job's decisions root (the container's key); None: no root."""


class Worker:
    """Runs jobs until asked to stop.

    `stop()`: claim nothing more, finish the jobs in hand. `abandon()`: also release the
    leases held, at each job's next checkpoint. A worker that dies instead (kill -9) is
    noticed by its peers when its leases go stale.
    """

    def __init__(
        self, app: Tieout, queue: JobQueue, store: ObjectStore, config: WorkerConfig
    ) -> None:
        self.app = app
        self.queue = queue
        self.config = config
        self.stopping = threading.Event()
        self.abandoning = threading.Event()
        self.matcher_rows_per_second = 0.0
        self.context = JobContext(
            app=app,
            queue=queue,
            store=store,
            policy=config.policy,
            meta=event_meta(actor=f"service:{config.name}", causation="worker.run"),
            on_rate=self._set_rate,
            signer=config.signer,
        )

    def run(self) -> None:
        """Run `concurrency` job loops until stopped."""
        threads = [
            threading.Thread(target=self.loop, name=f"worker-{n}", daemon=True)
            for n in range(self.config.concurrency)
        ]
        for thread in threads:
            thread.start()
        try:
            join_all(threads)
        finally:
            self.context.roots.close()

    def stop(self) -> None:
        self.stopping.set()

    def abandon(self) -> None:
        self.stopping.set()
        self.abandoning.set()

    def loop(self) -> None:
        while not self.stopping.is_set():
            try:
                busy = self.tick()
            except Exception:
                logger.exception("worker loop failed; retrying after a pause")
                busy = False
            if not busy:
                self.stopping.wait(self.config.poll_seconds)

    def tick(self) -> bool:
        """Do one round of work; True if a job was run."""
        self.maintain()
        job = self.claim_next()
        if job is None:
            return False
        self.run_job(job)
        return True

    def maintain(self) -> None:
        """Take over stale leases and requeue failed jobs whose backoff has passed."""
        meta = event_meta(actor=f"service:{self.config.name}", causation="worker.maintain")
        for job_id in self.queue.stale_leases(self.config.lease_seconds, SCAN_LIMIT):
            self._quietly(
                job_id,
                lambda job: self.app.take_over_job(
                    job, self.config.lease_seconds, self.config.policy, meta
                ),
            )
        for job_id in self.queue.due_retries(SCAN_LIMIT):
            self._quietly(job_id, lambda job: self.app.retry_job(job, meta))

    def claim_next(self) -> Job | None:
        """Claim the oldest claimable job under a fresh lease token, if there is one."""
        meta = event_meta(actor=f"service:{self.config.name}", causation="worker.claim")
        name, batch_size = self.config.name, self.config.batch_size
        for job_id in self.queue.claimable(SCAN_LIMIT):
            try:
                return self.app.claim_job(job_id, name, uuid.uuid4().hex, batch_size, meta)
            except (ConflictError, NotFoundError):
                continue  # another worker got there first
        return None

    def run_job(self, job: Job) -> str:
        interval, abandon = self.config.heartbeat_seconds, self.abandoning
        with Lease(self.queue, job.id, job.lease_token, interval, abandon) as lease:
            ended = run_claimed(self.context, job, lease)
        logger.info("job %s attempt %s: %s", job.id, job.attempts, ended)
        return ended

    def _set_rate(self, rows_per_second: float) -> None:
        self.matcher_rows_per_second = rows_per_second

    def _quietly(self, job_id: UUID, command: Callable[[UUID], None]) -> None:
        try:
            command(job_id)
        except ConflictError:
            logger.info("job %s moved on before we could act on it", job_id)
