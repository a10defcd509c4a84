"""Building workers from settings, and running one in-process (embedded default, demo)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from uuid import UUID

from engine.domain.job import ENDED, Job, RetryPolicy
from engine.ports import QueueEntry
from engine.threads import join_all
from engine.worker.loop import Worker, WorkerConfig
from projections.projector import run_projector
from tieout.bootstrap import Container
from tieout.settings import Settings

PROGRESS_SECONDS = 0.25


def worker_name() -> str:
    """How a worker acts in the event metadata: `worker-<host>-<pid>`."""
    return f"worker-{socket.gethostname()}-{os.getpid()}"


def worker_config(settings: Settings, concurrency: int | None = None) -> WorkerConfig:
    return WorkerConfig(
        name=worker_name(),
        concurrency=concurrency or settings.worker_concurrency,
        lease_seconds=settings.lease_seconds,
        heartbeat_seconds=settings.heartbeat_seconds,
        poll_seconds=settings.poll_seconds,
        batch_size=settings.decision_batch_size,
        policy=RetryPolicy(
            max_attempts=settings.max_attempts,
            backoff_seconds=settings.retry_backoff_seconds,
            backoff_max_seconds=settings.retry_backoff_max_seconds,
        ),
    )


def build_worker(container: Container, concurrency: int | None = None) -> Worker:
    config = replace(worker_config(container.settings, concurrency), signer=container.signer)
    return Worker(container.app, container.queue, container.object_store, config)


def start_in_background(worker: Worker) -> threading.Thread:
    thread = threading.Thread(target=worker.run, name="tieout-worker", daemon=True)
    thread.start()
    return thread


def run_until_done(
    container: Container,
    job_id: UUID,
    on_progress: Callable[[QueueEntry], None] | None = None,
    timeout_seconds: float | None = None,
    project_alongside: bool = False,
) -> Job:
    """Run an in-process worker until `job_id` is completed, dead-lettered or cancelled.

    `on_progress` is called a few times a second with the job's queue entry (status,
    phase, rows processed). Returns the job as it ended. With `project_alongside`, the
    projector runs too, as in `tieout serve`: the read models take the job's rows while
    the worker records them, and are a moment from current when it ends.
    """
    worker = build_worker(container, concurrency=1)
    thread = start_in_background(worker)
    stop_projector = threading.Event()
    projector = None
    if project_alongside:
        projector = threading.Thread(
            target=run_projector,
            args=(container.projections, stop_projector, PROGRESS_SECONDS, _no_report),
            name="tieout-projector",
            daemon=True,
        )
        projector.start()
    deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
    try:
        return wait_until_ended(container, job_id, on_progress, deadline)
    finally:
        worker.stop()
        join_all([thread])
        stop_projector.set()
        join_all([] if projector is None else [projector])


def _no_report(projection: str, position: int, lag: int) -> None:
    """The lag gauge of a projector run for one command: nobody scrapes it."""


def wait_until_ended(
    container: Container,
    job_id: UUID,
    on_progress: Callable[[QueueEntry], None] | None,
    deadline: float | None,
) -> Job:
    """Poll the queue until the job has ended (or the deadline passes: TimeoutError)."""
    while True:
        entry = container.queue.entry(job_id)
        if entry is not None and on_progress is not None:
            on_progress(entry)
        if entry is not None and entry.status in ENDED:
            return container.app.get_job(job_id)
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} did not end in time")
        time.sleep(PROGRESS_SECONDS)
