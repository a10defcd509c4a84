"""Ports: the interfaces the domain needs from the outside world."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Protocol, runtime_checkable
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from engine.domain.queue import QueueGuard, QueueRow


class ObjectStore(Protocol):
    """A flat key -> bytes store (a local directory, S3, MinIO), read and written as streams.

    Streams let a source arrive from a file, an HTTP body or another bucket without being
    held whole in memory or copied to a local file first.
    """

    @property
    def location(self) -> str:
        """Where the store lives, e.g. `file:///data/objects` or `s3://bucket/prefix`."""
        ...

    def put_stream(self, key: str, stream: BinaryIO) -> None:
        """Store everything `stream` yields under `key`, atomically (all or nothing)."""
        ...

    def open(self, key: str) -> AbstractContextManager[BinaryIO]:
        """The object `key` as a readable binary stream; NotFoundError when absent."""
        ...

    def exists(self, key: str) -> bool:
        """Whether an object is stored under `key`."""
        ...

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Every key that starts with `prefix`, in lexical order."""
        ...

    def delete(self, key: str) -> None:
        """Remove an object (only retention of backups does this; sources are kept)."""
        ...


@dataclass(frozen=True)
class JobProgress:
    """How far a running job is: shown by `tieout jobs show` while it runs."""

    phase: str
    rows_processed: int
    rows_total: int


@dataclass(frozen=True)
class QueueEntry:
    """One job as the queue table sees it."""

    job_id: UUID
    project_id: UUID
    status: str
    attempts: int
    failures: int
    worker: str
    phase: str
    rows_processed: int
    rows_total: int
    last_error: str
    heartbeat_age_seconds: float | None
    created_at: datetime


@runtime_checkable
class FencedRecorder(Protocol):
    """The event store's lease fencing: events appended only while a guard holds.

    `Tieout` saves every job transition and every batch of decisions through this, so a
    worker whose lease was taken over records nothing (docs/adr/0005).
    """

    def insert_fenced(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        guard: QueueGuard | None = None,
        row: QueueRow | None = None,
    ) -> Sequence[int] | None:
        """In one transaction: check `guard` against the job's queue row, write `row` (the
        job's new queue state) and append the events; or, if anything fails, none of it.

        Raises `LeaseLostError` when the guard names a lease that is no longer held,
        `JobStateError` when the row is not in the guarded status (or is locked, with
        `skip_locked`), and eventsourcing's `IntegrityError` on a version conflict.
        Returns the notification ids of the events.
        """
        ...


class JobQueue(Protocol):
    """The job queue table: what workers and operators read, and heartbeats.

    State changes that are events go through `FencedRecorder.insert_fenced` instead.
    """

    def claimable(self, limit: int) -> list[UUID]:
        """Requested jobs whose time has come, oldest first, skipping rows being claimed."""
        ...

    def due_retries(self, limit: int) -> list[UUID]:
        """Failed jobs whose backoff has passed."""
        ...

    def stale_leases(self, stale_for_seconds: float, limit: int) -> list[UUID]:
        """Running jobs whose lease has not been heartbeated for `stale_for_seconds`."""
        ...

    def heartbeat(self, job_id: UUID, lease_token: str, progress: JobProgress) -> bool:
        """Renew a lease and store progress; False when the lease is no longer held."""
        ...

    def recorded(self, stream_ids: list[UUID]) -> set[UUID]:
        """Which of these streams already have an event (batches written before)."""
        ...

    def entry(self, job_id: UUID) -> QueueEntry | None: ...

    def entries(
        self, statuses: tuple[str, ...] = (), project_id: UUID | None = None, limit: int = 100
    ) -> list[QueueEntry]:
        """Jobs newest first, optionally only in these statuses or this project."""
        ...

    def stats(self, duration_buckets: tuple[float, ...]) -> QueueStats:
        """Totals for the metrics, computed now from the table (right across workers)."""
        ...


@dataclass(frozen=True)
class QueueStats:
    """Jobs by status and monotonic totals; durations of completed jobs' last attempts."""

    jobs_by_status: dict[str, int]
    attempts: int
    failures: int
    takeovers: int
    dead_letters: int
    oldest_heartbeat_age_seconds: float
    duration_bucket_counts: list[int]
    """Completed jobs per duration bucket (not cumulative), one more than the buckets."""
    duration_sum_seconds: float
