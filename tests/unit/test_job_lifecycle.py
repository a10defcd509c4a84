"""The Job aggregate's lifecycle rules, without a database."""

from __future__ import annotations

from uuid import uuid4

import pytest

from engine.domain.base import TieoutAggregate
from engine.domain.job import (
    CANCELLED,
    COMPLETED,
    DEAD_LETTERED,
    FAILED,
    PERMANENT_ERROR,
    REQUESTED,
    RUNNING,
    Job,
    JobOutcome,
    JobStateError,
    LeaseLostError,
    RetryPolicy,
    job_id,
)
from engine.domain.meta import event_meta
from engine.domain.queue import QueueRow

META = event_meta(actor="service:worker-test", causation="test")
POLICY = RetryPolicy(max_attempts=3, backoff_seconds=2, backoff_max_seconds=5)
OUTCOME = JobOutcome(
    counts={"matched": 1, "suggested": 0, "unmatched_left": 0, "unmatched_right": 0},
    inputs_hash="in",
    ruleset_version=1,
    engine_version="0.1.0",
    decisions_hash="out",
    decision_batches=1,
    unmatched_batches=0,
)


def new_job() -> Job:
    return Job(
        project_id=uuid4(),
        left_source_id=uuid4(),
        right_source_id=uuid4(),
        ruleset_version=1,
        idempotency_key="",
        meta=META,
    )


def claimed(job: Job, lease: str = "t1", batch_size: int = 100) -> Job:
    job.claim("w1", lease, batch_size, META)
    return job


@pytest.mark.parametrize(("failures", "delay"), [(1, 2), (2, 4), (3, 5), (9, 5)])
def test_backoff_doubles_up_to_the_cap(failures: int, delay: float) -> None:
    assert POLICY.delay(failures) == delay


def test_completion_needs_the_current_lease() -> None:
    job = claimed(new_job())
    with pytest.raises(LeaseLostError):
        job.complete("someone-else", OUTCOME, META)
    job.complete("t1", OUTCOME, META)
    assert (job.status, job.outcome) == (COMPLETED, OUTCOME)
    with pytest.raises(LeaseLostError):
        job.complete("t1", OUTCOME, META)


def test_failures_back_off_then_dead_letter() -> None:
    job = new_job()
    for attempt in (1, 2):
        claimed(job, f"t{attempt}").fail(f"t{attempt}", "boom", POLICY, META)
        assert (job.status, job.retry_in_seconds) == (FAILED, POLICY.delay(attempt))
        job.retry(META)
        assert job.status == REQUESTED
    claimed(job, "t3").fail("t3", "boom", POLICY, META)
    assert (job.status, job.attempts, job.failures, job.dead_letters) == (DEAD_LETTERED, 3, 3, 1)


def test_permanent_error_dead_letters_at_once() -> None:
    job = claimed(new_job())
    job.fail("t1", "BadInputError: no column", POLICY, META, permanent=True)
    assert job.status == DEAD_LETTERED


def test_redrive_gives_a_fresh_budget() -> None:
    job = claimed(new_job())
    job.fail("t1", "boom", POLICY, META, permanent=True)
    job.redrive(META)
    claimed(job, "t2").fail("t2", "boom", POLICY, META)
    assert job.status == FAILED  # one failure since the redrive, of three allowed
    with pytest.raises(JobStateError):
        job.redrive(META)


def test_release_counts_no_failure() -> None:
    job = claimed(new_job())
    job.release("t1", "shutdown", META)
    assert (job.status, job.attempts, job.failures) == (REQUESTED, 1, 0)


def test_first_claim_fixes_the_batch_size() -> None:
    job = claimed(new_job(), batch_size=100)
    job.release("t1", "shutdown", META)
    claimed(job, "t2", batch_size=7)
    assert job.decision_batch_size == 100


def test_takeover_counts_and_cancel_is_final() -> None:
    job = claimed(new_job())
    job.fail("t1", "lease expired", POLICY, META, lease_expired=True)
    assert job.takeovers == 1
    job.cancel("not needed", META)
    assert job.status == CANCELLED
    with pytest.raises(JobStateError):
        job.cancel("again", META)
    with pytest.raises(JobStateError):
        job.retry(META)
    with pytest.raises(JobStateError):
        job.redrive(META)


def test_queue_row_mirrors_the_aggregate() -> None:
    job = claimed(new_job())
    row = QueueRow.of(job)
    assert (row.status, row.attempts, row.lease_token, row.worker) == (RUNNING, 1, "t1", "w1")
    job.fail("t1", "boom", POLICY, META)
    row = QueueRow.of(job)
    assert (row.status, row.lease_token, row.available_in_seconds) == (FAILED, None, 2)


def test_every_event_carries_the_metadata_of_its_command() -> None:
    """Auditors filter on actor, request id and causation: no command drops them."""
    metas = {name: event_meta("user:a@example.com", name, f"req-{name}") for name in "abcdefgh"}
    job = Job(uuid4(), uuid4(), uuid4(), 1, "", meta=metas["a"])
    job.claim("w1", "t1", 10, metas["b"])
    job.fail("t1", "boom", POLICY, metas["c"])
    job.retry(metas["d"])
    job.claim("w1", "t2", 10, metas["e"])
    job.fail("t2", "bad input", POLICY, metas["f"], permanent=True)  # failed + dead-lettered
    job.redrive(metas["g"])
    job.claim("w1", "t3", 10, metas["h"])
    job.release("t3", "shutdown", metas["a"])
    job.cancel("not needed", metas["b"])
    other = claimed(new_job())
    other.complete("t1", OUTCOME, metas["c"])
    events = [*job.collect_events(), *other.collect_events()[2:]]
    recorded = [event.meta for event in events if isinstance(event, TieoutAggregate.Event)]
    assert [meta["causation"] for meta in recorded] == [*"abcdeffgh", "a", "b", "c"]
    assert all(meta == metas[meta["causation"]] for meta in recorded)


def test_every_requeue_and_cancel_says_why() -> None:
    job = claimed(new_job())
    job.fail("t1", "disk full", POLICY, META)
    job.retry(META)
    claimed(job, "t2").fail("t2", "bad input", POLICY, META, permanent=True)
    job.redrive(META)
    job.cancel("superseded by a new upload", META)
    reasons = [
        event.reason
        for event in job.collect_events()
        if isinstance(event, Job.JobRequeued | Job.JobCancelled)
    ]
    assert len(reasons) == 3
    assert "disk full" in reasons[0]
    assert "redrive" in reasons[1]
    assert reasons[2] == "superseded by a new upload"


@pytest.mark.parametrize(
    ("command", "state"),
    [("claim", CANCELLED), ("retry", REQUESTED), ("redrive", FAILED), ("cancel", COMPLETED)],
)
def test_a_refused_command_says_which_and_why(command: str, state: str) -> None:
    """The CLI prints this one line: it names the job, its state and the command."""
    job = new_job()
    if state == CANCELLED:
        job.cancel("stop", META)
    elif state == FAILED:
        claimed(job).fail("t1", "boom", POLICY, META)
    elif state == COMPLETED:
        claimed(job).complete("t1", OUTCOME, META)
    calls = {
        "claim": lambda: job.claim("w", "t9", 10, META),
        "retry": lambda: job.retry(META),
        "redrive": lambda: job.redrive(META),
        "cancel": lambda: job.cancel("again", META),
    }
    with pytest.raises(JobStateError) as refused:
        calls[command]()
    assert str(refused.value) == f"job {job.id} is {state}: cannot {command}"


def test_an_idempotency_key_names_one_job_per_project() -> None:
    """A retried request (same project, same key) names the same job; no key, a new one."""
    project, other = uuid4(), uuid4()
    assert Job.create_id(project, "k1") == Job.create_id(project, "k1") == job_id(project, "k1")
    assert len({Job.create_id(project, "k1"), Job.create_id(project, "k2")}) == 2
    assert Job.create_id(project, "k1") != Job.create_id(other, "k1")
    assert Job.create_id(project, "") != Job.create_id(project, "")


def test_the_events_of_an_attempt_record_what_docs_events_md_lists() -> None:
    job = claimed(new_job())
    job.fail("t1", "boom", POLICY, META)
    job.retry(META)
    lease = "t2"
    claimed(job, lease).complete(lease, OUTCOME, META)
    failed, completed = (
        event
        for event in job.collect_events()
        if isinstance(event, Job.JobFailed | Job.JobCompleted)
    )
    assert isinstance(failed, Job.JobFailed)
    assert (failed.error, failed.attempt, failed.lease_expired) == ("boom", 1, False)
    assert failed.retry_in_seconds == POLICY.delay(1)
    assert isinstance(completed, Job.JobCompleted)
    assert completed.lease_token == lease  # which lease completed it, for the audit


def test_an_ordinary_failure_is_no_takeover() -> None:
    job = claimed(new_job())
    job.fail("t1", "boom", POLICY, META)
    assert (job.failures, job.takeovers) == (1, 0)


@pytest.mark.parametrize(
    ("permanent", "attempts", "reason"), [(True, 1, PERMANENT_ERROR), (False, 3, "3 failed")]
)
def test_a_dead_letter_says_why_and_schedules_no_retry(
    permanent: bool, attempts: int, reason: str
) -> None:
    job = new_job()
    for attempt in range(1, attempts + 1):
        if attempt > 1:
            job.retry(META)
        claimed(job, f"t{attempt}").fail(f"t{attempt}", "boom", POLICY, META, permanent=permanent)
    assert job.status == DEAD_LETTERED
    assert job.dead_letter_reason.startswith(reason)
    assert job.retry_in_seconds == 0.0
    assert QueueRow.of(job).available_in_seconds == 0.0


def test_a_lost_lease_error_names_the_lease() -> None:
    job = claimed(new_job())
    with pytest.raises(LeaseLostError, match="lease someone-else is no longer held"):
        job.complete("someone-else", OUTCOME, META)
