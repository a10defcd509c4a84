"""A job's worker events carry the request id of the request that asked for the job; a
command with a request of its own (a user's cancel) keeps its own."""

from __future__ import annotations

from uuid import uuid4

from eventsourcing.domain import Aggregate

from engine.domain.job import Job, JobOutcome, RetryPolicy
from engine.domain.meta import EventMeta, event_meta, on_behalf_of

ASKED = event_meta(actor="user:ann@acme.test", causation="jobs.run", request_id="req-1")
WORKER = event_meta(actor="service:worker-1", causation="worker.run")
POLICY = RetryPolicy(max_attempts=2, backoff_seconds=1, backoff_max_seconds=1)
OUTCOME = JobOutcome(
    counts={},
    inputs_hash="in",
    ruleset_version=1,
    engine_version="0",
    decisions_hash="out",
    decision_batches=0,
    unmatched_batches=0,
)


def requested(meta: EventMeta) -> Job:
    return Job(
        project_id=uuid4(),
        left_source_id=uuid4(),
        right_source_id=uuid4(),
        ruleset_version=1,
        idempotency_key="",
        meta=meta,
    )


def metas(job: Aggregate) -> list[tuple[str, str, str]]:
    return [
        (type(event).__name__, event.meta["request_id"], event.meta["actor"])  # type: ignore[attr-defined]
        for event in job.collect_events()
    ]


def test_every_worker_event_names_the_requesting_request() -> None:
    job = requested(ASKED)
    job.claim("worker-1", "t1", 100, WORKER)
    job.fail("t1", "boom", POLICY, WORKER)
    job.retry(WORKER)
    job.claim("worker-1", "t2", 100, WORKER)
    job.release("t2", "shutting down", WORKER)
    job.claim("worker-1", "t3", 100, WORKER)
    job.complete("t3", OUTCOME, WORKER)
    found = metas(job)
    assert {request for _, request, _ in found} == {"req-1"}
    assert {actor for name, _, actor in found if name != "JobRequested"} == {"service:worker-1"}
    assert job.for_request(WORKER) == {**WORKER, "request_id": "req-1"}


def test_a_command_of_its_own_request_keeps_its_id() -> None:
    job = requested(ASKED)
    job.collect_events()
    job.cancel("not needed", event_meta("user:bob@acme.test", "jobs.cancel", "req-2"))
    assert metas(job) == [("JobCancelled", "req-2", "user:bob@acme.test")]


def test_a_job_asked_for_from_the_cli_has_no_request_id() -> None:
    job = requested(event_meta(actor="cli:ops", causation="jobs.run"))
    job.claim("worker-1", "t1", 100, WORKER)
    assert {request for _, request, _ in metas(job)} == {""}
    assert on_behalf_of(WORKER, "") is WORKER


def test_the_request_id_survives_a_reload_from_the_log() -> None:
    job = requested(ASKED)
    events = job.collect_events()
    copy = None
    for event in events:
        copy = event.mutate(copy)
    assert isinstance(copy, Job)
    assert copy.request_id == "req-1"
