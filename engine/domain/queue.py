"""What a Job save asks of the queue table, in the same transaction as its events.

`FencedRecorder.insert_fenced(events, guard=QueueGuard(...), row=QueueRow.of(job))`: the
recorder first checks the guard (on PostgreSQL the row is locked `FOR UPDATE`; a failed
check rolls the whole save back), then writes the row. The row is derived from the
aggregate, so the queue cannot drift from the log. Heartbeats and progress change the row
too, but they are not events. `guard_holds` and `guard_error` are the rule every recorder
applies, so the in-memory one and PostgreSQL's fence the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from engine.domain.job import Job, JobStateError, LeaseLostError
from engine.errors import ConflictError


@dataclass(frozen=True)
class QueueRow:
    """The queue table's view of one job after a save."""

    job_id: UUID
    project_id: UUID
    status: str
    attempts: int
    failures: int
    takeovers: int
    dead_letters: int
    lease_token: str | None
    worker: str
    last_error: str
    available_in_seconds: float

    @classmethod
    def of(cls, job: Job) -> QueueRow:
        return cls(
            job_id=job.id,
            project_id=job.project_id,
            status=job.status,
            attempts=job.attempts,
            failures=job.failures,
            takeovers=job.takeovers,
            dead_letters=job.dead_letters,
            lease_token=job.lease_token or None,
            worker=job.worker,
            last_error=job.last_error,
            available_in_seconds=job.retry_in_seconds,
        )


@dataclass(frozen=True)
class QueueGuard:
    """What must still hold in the queue row for a save to go through.

    `lease_token`: the writer's lease is still the current one (lease fencing).
    `stale_for_seconds`: the lease has not been heartbeated for this long (takeover).
    `skip_locked`: give up at once if another transaction holds the row (claiming).
    """

    job_id: UUID
    status: str
    lease_token: str | None = None
    stale_for_seconds: float | None = None
    skip_locked: bool = False


def guard_holds(
    guard: QueueGuard, status: str, lease_token: str | None, heartbeat_age: float | None
) -> bool:
    """Whether a queue row in this state lets the guarded save through.

    `heartbeat_age` is the seconds since the row's lease was last heartbeated (None: never).
    """
    if status != guard.status:
        return False
    if guard.lease_token is not None and lease_token != guard.lease_token:
        return False
    if guard.stale_for_seconds is None:
        return True
    return heartbeat_age is not None and heartbeat_age > guard.stale_for_seconds


def guard_error(guard: QueueGuard) -> ConflictError:
    """What a save whose guard failed raises: a lost lease, or a job no longer in state."""
    if guard.lease_token is not None:
        return LeaseLostError(f"job {guard.job_id}: lease {guard.lease_token} is no longer held")
    return JobStateError(f"job {guard.job_id} is no longer {guard.status}")
