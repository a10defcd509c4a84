"""The in-memory job queue on a clock the test moves: what it hands out, in what order.

Written against the survivors of the mutation run (make test-deep): orderings, limits and
boundaries that the fencing contract did not reach. The PostgreSQL queue keeps the same
orders in SQL (`ORDER BY available_at, created_at`; stale leases by heartbeat).
"""

from __future__ import annotations

from uuid import UUID, uuid4

from engine.domain.job import (
    COMPLETED,
    DEAD_LETTERED,
    FAILED,
    REQUESTED,
    RUNNING,
    Job,
    JobStateError,
)
from engine.domain.meta import event_meta
from engine.domain.queue import QueueGuard, QueueRow, guard_error, guard_holds
from engine.memory import InMemoryFencedRecorder, InMemoryJobQueue
from engine.ports import JobProgress

PROJECT, OTHER = uuid4(), uuid4()
META = event_meta(actor="service:test", causation="test")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def queue_at(clock: Clock) -> InMemoryJobQueue:
    return InMemoryJobQueue(InMemoryFencedRecorder(clock))


def put(
    queue: InMemoryJobQueue,
    status: str,
    *,
    available_in: float = 0.0,
    project: UUID = PROJECT,
    attempts: int = 0,
    failures: int = 0,
    dead_letters: int = 0,
) -> UUID:
    job_id = uuid4()
    row = QueueRow(
        job_id=job_id,
        project_id=project,
        status=status,
        attempts=attempts,
        failures=failures,
        takeovers=failures // 2,
        dead_letters=dead_letters,
        lease_token="token" if status == RUNNING else None,
        worker="w",
        last_error="",
        available_in_seconds=available_in,
    )
    queue.recorder.insert_fenced([], row=row)
    return job_id


def test_claimable_and_due_retries_are_due_rows_of_their_status_oldest_first() -> None:
    clock = Clock()
    queue = queue_at(clock)
    later = put(queue, REQUESTED, available_in=2)
    first, second = put(queue, REQUESTED), put(queue, REQUESTED)
    failed = put(queue, FAILED)
    assert queue.claimable(10) == [first, second]
    assert queue.claimable(1) == [first]
    assert queue.due_retries(10) == [failed]
    clock.now = 2
    assert queue.claimable(10) == [first, second, later]


def test_stale_leases_are_those_beyond_the_limit_stalest_first() -> None:
    clock = Clock()
    queue = queue_at(clock)
    clock.now = 0.5
    fresher = put(queue, RUNNING)
    clock.now = 0.0
    stalest = put(queue, RUNNING)
    clock.now = 5.0
    assert queue.stale_leases(5.0, 10) == []  # exactly the limit is not beyond it
    clock.now = 10.0
    assert queue.stale_leases(5.0, 10) == [stalest, fresher]
    assert queue.stale_leases(5.0, 1) == [stalest]
    assert queue.heartbeat(stalest, "token", JobProgress("recording", 3, 9))
    assert queue.stale_leases(5.0, 10) == [fresher]
    entry = queue.entry(stalest)
    assert entry is not None
    assert (entry.phase, entry.rows_processed, entry.rows_total) == ("recording", 3, 9)
    assert entry.heartbeat_age_seconds == 0.0


def test_a_heartbeat_needs_a_running_job_and_its_lease() -> None:
    queue = queue_at(Clock())
    running, waiting = put(queue, RUNNING), put(queue, REQUESTED)
    progress = JobProgress("matching", 0, 1)
    assert not queue.heartbeat(uuid4(), "token", progress)
    assert not queue.heartbeat(running, "other", progress)
    assert not queue.heartbeat(waiting, "token", progress)
    assert queue.entry(uuid4()) is None
    entry = queue.entry(waiting)
    assert entry is not None
    assert entry.heartbeat_age_seconds is None  # only a running job has a heartbeat


def test_entries_filter_by_status_and_project_newest_first() -> None:
    queue = queue_at(Clock())
    old, other, new = (
        put(queue, REQUESTED),
        put(queue, REQUESTED, project=OTHER),
        put(queue, FAILED),
    )
    assert [e.job_id for e in queue.entries()] == [new, other, old]
    assert [e.job_id for e in queue.entries((REQUESTED,))] == [other, old]
    assert [e.job_id for e in queue.entries(project_id=PROJECT)] == [new, old]
    assert [e.job_id for e in queue.entries(limit=1)] == [new]


def test_stats_count_statuses_totals_durations_and_the_stalest_heartbeat() -> None:
    clock = Clock()
    queue = queue_at(clock)
    done = put(queue, RUNNING, attempts=1)
    put(queue, RUNNING, attempts=2, failures=2)
    clock.now = 5.0
    row = QueueRow(done, PROJECT, COMPLETED, 1, 0, 0, 0, None, "w", "", 0.0)
    queue.recorder.insert_fenced([], row=row)  # completed 5 s after its claim: a bucket bound
    clock.now = 7.0
    put(queue, RUNNING)
    put(queue, REQUESTED)
    clock.now = 9.0
    stats = queue.stats((1.0, 5.0, 10.0))
    assert stats.jobs_by_status == {COMPLETED: 1, RUNNING: 2, REQUESTED: 1}
    assert (stats.attempts, stats.failures, stats.takeovers) == (3, 2, 1)
    assert stats.duration_bucket_counts == [0, 0, 1, 0]  # 5 s is in the bucket from 5 s
    assert stats.duration_sum_seconds == 5.0
    assert stats.oldest_heartbeat_age_seconds == 9.0  # of the two running: 9 s and 2 s


def test_stats_sum_every_completed_job_and_ignore_heartbeats_of_ended_ones() -> None:
    """Durations are finish minus claim, summed over every completed job wherever it sits
    among the rows; a completed job's last heartbeat is not a running lease's."""
    clock = Clock()
    queue = queue_at(clock)
    put(queue, REQUESTED)
    clock.now = 1.0
    fast, slow = put(queue, RUNNING, attempts=1), put(queue, RUNNING, attempts=1)
    clock.now = 3.0
    fast_done = QueueRow(fast, PROJECT, COMPLETED, 1, 0, 0, 0, None, "w", "", 0.0)
    queue.recorder.insert_fenced([], row=fast_done)  # 2 s
    clock.now = 21.0
    slow_done = QueueRow(slow, PROJECT, COMPLETED, 1, 0, 0, 0, None, "w", "", 0.0)
    queue.recorder.insert_fenced([], row=slow_done)  # 20 s
    put(queue, DEAD_LETTERED, failures=3, dead_letters=1)
    clock.now = 30.0
    stats = queue.stats((1.0, 5.0, 10.0))
    assert stats.duration_bucket_counts == [0, 1, 0, 1]
    assert stats.duration_sum_seconds == 22.0
    assert stats.dead_letters == 1
    assert stats.oldest_heartbeat_age_seconds == 0.0  # nothing is running
    clock.now = 40.0
    put(queue, RUNNING)
    clock.now = 44.0
    unbounded = queue.stats(())
    assert unbounded.duration_bucket_counts == [2]  # no bounds: one bucket, both jobs
    assert unbounded.oldest_heartbeat_age_seconds == 4.0  # not the completed jobs' 43 s


def test_due_retries_hand_out_at_most_the_limit() -> None:
    queue = queue_at(Clock())
    first, second = put(queue, FAILED), put(queue, FAILED)
    assert queue.due_retries(1) == [first]
    assert queue.due_retries(2) == [first, second]


def test_entries_default_to_a_page_of_100() -> None:
    queue = queue_at(Clock())
    jobs = [put(queue, REQUESTED) for _ in range(101)]
    assert [e.job_id for e in queue.entries()] == jobs[:0:-1]


def test_a_release_records_its_reason() -> None:
    job = Job(uuid4(), uuid4(), uuid4(), 1, "", meta=META)
    job.claim("w", "t", 10, META)
    job.release("t", "shutting down", META)
    (released,) = [e for e in job.collect_events() if isinstance(e, Job.JobRequeued)]
    assert released.reason == "shutting down"


def test_a_takeover_guard_needs_a_heartbeat_older_than_the_limit() -> None:
    """The rule both recorders apply (engine/domain/queue.py): exactly the limit is fresh."""
    guard = QueueGuard(uuid4(), RUNNING, stale_for_seconds=5.0)
    assert not guard_holds(guard, RUNNING, "token", 5.0)
    assert guard_holds(guard, RUNNING, "token", 5.5)
    assert not guard_holds(guard, RUNNING, "token", None)
    error = guard_error(guard)
    assert isinstance(error, JobStateError)
    assert str(error) == f"job {guard.job_id} is no longer running"
