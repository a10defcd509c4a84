"""Ports: the interfaces the domain needs from the outside world."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol
from uuid import UUID


class ObjectStore(Protocol):
    """A flat key -> bytes store (a local directory, S3, MinIO)."""

    @property
    def location(self) -> str:
        """Where the store lives, e.g. `file:///data/objects` or `s3://bucket/prefix`."""
        ...

    def put_file(self, key: str, path: Path) -> None:
        """Store the file at `path` under `key`, atomically (all or nothing)."""
        ...

    def get_file(self, key: str, path: Path) -> None:
        """Copy the object `key` to the local file `path`."""
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


class JobQueue(Protocol):
    """The job queue table: what workers and operators read, and heartbeats.

    State changes that are events go through `Tieout.save(..., queue=, guard=)` instead.
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
