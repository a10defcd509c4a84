"""The event store and job queue in memory: `FencedRecorder` and `JobQueue` without a database.

They apply the same fencing rule as PostgreSQL (`engine.domain.queue.guard_holds`), so the
rule that keeps a job from being recorded twice is tested without a server, and the same
contract tests run on both (tests/integration/test_fencing_contract.py). Everything happens under
the recorder's one lock, so a guarded save is atomic here too: the guard is checked, the
row written and the events appended, or nothing is.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from threading import RLock
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.popo import POPOApplicationRecorder

from engine.domain.job import COMPLETED, ENDED, FAILED, REQUESTED, RUNNING
from engine.domain.queue import QueueGuard, QueueRow, guard_error, guard_holds
from engine.ports import JobProgress, QueueEntry, QueueStats

Clock = Callable[[], float]


@dataclass
class _Row:
    """One job's queue row, with times on the queue's clock (seconds)."""

    row: QueueRow
    created_at: datetime
    created_seq: int
    available_at: float
    heartbeat_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    phase: str = REQUESTED
    rows_processed: int = 0
    rows_total: int = 0


class InMemoryFencedRecorder(POPOApplicationRecorder):
    """eventsourcing's in-memory application recorder, plus the job queue and its fence."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        super().__init__()
        self.clock = clock
        self.rows: dict[UUID, _Row] = {}

    def insert_fenced(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        guard: QueueGuard | None = None,
        row: QueueRow | None = None,
    ) -> Sequence[int] | None:
        with self._database_lock:
            if guard is not None:
                self._check(guard)
            self._assert_uniqueness(stored_events)
            if row is not None:
                self._write(row)
            ids = self._update_table(stored_events)
        self._notify_listeners()
        return ids

    @property
    def lock(self) -> RLock:
        """Held by every read and write of the events and the queue rows."""
        return self._database_lock

    def heartbeat_age(self, job_id: UUID) -> float | None:
        found = self.rows.get(job_id)
        if found is None or found.heartbeat_at is None:
            return None
        return self.clock() - found.heartbeat_at

    def _check(self, guard: QueueGuard) -> None:
        found = self.rows.get(guard.job_id)
        if found is None or not guard_holds(
            guard, found.row.status, found.row.lease_token, self.heartbeat_age(guard.job_id)
        ):
            raise guard_error(guard)

    def _write(self, row: QueueRow) -> None:
        now = self.clock()
        found = self.rows.get(row.job_id)
        if found is None:
            found = _Row(row, datetime.now(UTC), len(self.rows), now)
            self.rows[row.job_id] = found
        claimed = row.status == RUNNING
        found.row = row
        found.available_at = now + row.available_in_seconds
        if claimed:
            found.heartbeat_at = found.started_at = now
            found.phase, found.rows_processed = "claimed", 0
        elif row.status != RUNNING:
            found.phase = row.status
        found.finished_at = now if row.status in ENDED else None


class InMemoryJobQueue:
    """`engine.ports.JobQueue` over an `InMemoryFencedRecorder`'s rows."""

    def __init__(self, recorder: InMemoryFencedRecorder) -> None:
        self.recorder = recorder

    def claimable(self, limit: int) -> list[UUID]:
        return self._pick(REQUESTED, limit)

    def due_retries(self, limit: int) -> list[UUID]:
        return self._pick(FAILED, limit)

    def stale_leases(self, stale_for_seconds: float, limit: int) -> list[UUID]:
        with self.recorder.lock:
            now = self.recorder.clock()
            stale = [
                found
                for found in self.recorder.rows.values()
                if found.row.status == RUNNING
                and found.heartbeat_at is not None
                and now - found.heartbeat_at > stale_for_seconds
            ]
            stale.sort(key=lambda found: found.heartbeat_at or 0.0)
            return [found.row.job_id for found in stale[:limit]]

    def heartbeat(self, job_id: UUID, lease_token: str, progress: JobProgress) -> bool:
        with self.recorder.lock:
            found = self.recorder.rows.get(job_id)
            if found is None or found.row.status != RUNNING or found.row.lease_token != lease_token:
                return False
            found.heartbeat_at = self.recorder.clock()
            found.phase = progress.phase
            found.rows_processed, found.rows_total = progress.rows_processed, progress.rows_total
            return True

    def recorded(self, stream_ids: list[UUID]) -> set[UUID]:
        return {stream for stream in stream_ids if self.recorder.select_events(stream, limit=1)}

    def entry(self, job_id: UUID) -> QueueEntry | None:
        with self.recorder.lock:
            found = self.recorder.rows.get(job_id)
            return None if found is None else self._entry(found)

    def entries(
        self, statuses: tuple[str, ...] = (), project_id: UUID | None = None, limit: int = 100
    ) -> list[QueueEntry]:
        with self.recorder.lock:
            rows = [
                found
                for found in self.recorder.rows.values()
                if (not statuses or found.row.status in statuses)
                and (project_id is None or found.row.project_id == project_id)
            ]
            rows.sort(key=lambda found: (-found.created_seq, str(found.row.job_id)))
            return [self._entry(found) for found in rows[:limit]]

    def stats(self, duration_buckets: tuple[float, ...]) -> QueueStats:
        with self.recorder.lock:
            rows = list(self.recorder.rows.values())
            now = self.recorder.clock()
        by_status: dict[str, int] = {}
        for found in rows:
            by_status[found.row.status] = by_status.get(found.row.status, 0) + 1
        counts = [0] * (len(duration_buckets) + 1)
        total = 0.0
        for found in rows:
            if found.row.status != COMPLETED or found.started_at is None:
                continue
            seconds = (found.finished_at or now) - found.started_at
            counts[sum(1 for bound in duration_buckets if seconds >= bound)] += 1
            total += seconds
        ages = [
            now - found.heartbeat_at
            for found in rows
            if found.row.status == RUNNING and found.heartbeat_at is not None
        ]
        return QueueStats(
            jobs_by_status=by_status,
            attempts=sum(found.row.attempts for found in rows),
            failures=sum(found.row.failures for found in rows),
            takeovers=sum(found.row.takeovers for found in rows),
            dead_letters=sum(found.row.dead_letters for found in rows),
            oldest_heartbeat_age_seconds=max(ages, default=0.0),
            duration_bucket_counts=counts,
            duration_sum_seconds=total,
        )

    def _pick(self, status: str, limit: int) -> list[UUID]:
        with self.recorder.lock:
            now = self.recorder.clock()
            due = [
                found
                for found in self.recorder.rows.values()
                if found.row.status == status and found.available_at <= now
            ]
            due.sort(key=lambda found: (found.available_at, found.created_seq))
            return [found.row.job_id for found in due[:limit]]

    def _entry(self, found: _Row) -> QueueEntry:
        row = found.row
        age = None
        if row.status == RUNNING and found.heartbeat_at is not None:
            age = self.recorder.clock() - found.heartbeat_at
        return QueueEntry(
            job_id=row.job_id,
            project_id=row.project_id,
            status=row.status,
            attempts=row.attempts,
            failures=row.failures,
            worker=row.worker,
            phase=found.phase,
            rows_processed=found.rows_processed,
            rows_total=found.rows_total,
            last_error=row.last_error,
            heartbeat_age_seconds=age,
            created_at=found.created_at,
        )
