"""Any sequence of lifecycle commands keeps the Job's invariants (hypothesis)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import uuid4

from budget import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.domain.job import COMPLETED, FINAL, RUNNING, Job, JobOutcome, RetryPolicy
from engine.domain.meta import event_meta
from engine.errors import ConflictError

META = event_meta(actor="service:worker-test", causation="property")
POLICY = RetryPolicy(max_attempts=3, backoff_seconds=1, backoff_max_seconds=8)
COMMANDS = (
    "claim",
    "complete",
    "fail",
    "fail_permanent",
    "take_over",
    "release",
    "retry",
    "redrive",
    "cancel",
)


OUTCOME = JobOutcome(
    counts={"matched": 0, "suggested": 0, "unmatched_left": 0, "unmatched_right": 0},
    inputs_hash="in",
    ruleset_version=1,
    engine_version="test",
    decisions_hash="out",
    decision_batches=0,
    unmatched_batches=0,
)


def new_job() -> Job:
    ids = [uuid4() for _ in range(3)]
    return Job(ids[0], ids[1], ids[2], ruleset_version=1, idempotency_key="", meta=META)


@dataclass(frozen=True)
class Step:
    command: str
    stale_token: bool


steps = st.lists(
    st.builds(Step, command=st.sampled_from(COMMANDS), stale_token=st.booleans()),
    max_size=40,
)


def apply(job: Job, step: Step, number: int) -> None:
    token = "stale" if step.stale_token else job.lease_token
    commands: dict[str, Any] = {
        "claim": lambda: job.claim(f"w{number}", f"t{number}", 100, META),
        "complete": lambda: job.complete(token, OUTCOME, META),
        "fail": lambda: job.fail(token, "boom", POLICY, META),
        "fail_permanent": lambda: job.fail(token, "bad", POLICY, META, permanent=True),
        "take_over": lambda: job.fail(token, "expired", POLICY, META, lease_expired=True),
        "release": lambda: job.release(token, "shutdown", META),
        "retry": lambda: job.retry(META),
        "redrive": lambda: job.redrive(META),
        "cancel": lambda: job.cancel("user", META),
    }
    commands[step.command]()


def snapshot(job: Job) -> tuple[Any, ...]:
    return (
        job.status,
        job.attempts,
        job.failures,
        job.takeovers,
        job.dead_letters,
        job.lease_token,
        job.version,
    )


@settings(max_examples=examples(300), deadline=None)
@given(steps)
def test_any_command_sequence_keeps_the_invariants(sequence: list[Step]) -> None:
    job = new_job()
    for number, step in enumerate(sequence):
        before = snapshot(job)
        holder = job.lease_token
        was_running = job.status == RUNNING
        try:
            apply(job, step, number)
        except ConflictError:
            assert snapshot(job) == before, "a rejected command changed the job"
            continue
        after = snapshot(job)
        if before[0] in FINAL:
            raise AssertionError(f"{step.command} changed a {before[0]} job")
        assert all(new >= old for new, old in zip(after[1:5], before[1:5], strict=True))
        if job.status == COMPLETED:  # only the holder of the current lease completes
            assert was_running
            assert holder
            assert not step.stale_token
        assert (job.status == RUNNING) == bool(job.lease_token)
        assert job.failures - job.failures_before_redrive <= POLICY.max_attempts
    assert_replay_gives_the_same_job(job)


def assert_replay_gives_the_same_job(job: Job) -> None:
    replayed: Any = None
    for event in job.collect_events():
        replayed = event.mutate(replayed)
    assert replayed is not None
    assert snapshot(replayed) == snapshot(job)
    assert replayed.outcome == job.outcome
