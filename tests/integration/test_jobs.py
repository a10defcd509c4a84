"""Jobs on a real PostgreSQL: lifecycle, queue in step with events, retries, fencing."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import polars as pl
import psycopg
import pytest
from jobs_helpers import (
    BATCH_SIZE,
    META,
    Inputs,
    batch_events,
    direct_match,
    event_names,
    recorded_frames,
    register_inputs,
    worker,
)
from polars.testing import assert_frame_equal
from threads import Threads

from engine.domain.decisions import DECISIONS, batch_id
from engine.domain.job import (
    CANCELLED,
    COMPLETED,
    DEAD_LETTERED,
    FAILED,
    REQUESTED,
    RUNNING,
    Job,
    JobStateError,
    LeaseLostError,
)
from engine.domain.queue import QueueGuard
from engine.errors import ConflictError, NotFoundError
from engine.matching import decisions_hash
from engine.ports import JobProgress, QueueEntry
from engine.worker.loop import Worker
from engine.worker.recording import BATCHES_PER_TRANSACTION, Recorder
from tieout.bootstrap import Container
from tieout.workers import run_until_done


@pytest.fixture
def inputs(container: Container, tmp_path: Path) -> Inputs:
    return register_inputs(container, tmp_path)


PROGRESS = JobProgress("matching", 1, 2)


def object_path(container: Container, inputs: Inputs) -> Path:
    source = container.app.get_source(inputs.project_id, inputs.left_id)
    return Path(container.settings.object_store_location) / source.location


def make_stale(database_url: str) -> None:
    """What a worker that stopped heartbeating leaves behind."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE tieout_job_queue SET heartbeat_at = now() - interval '1 hour'")


def test_job_records_what_the_matcher_decides(container: Container, inputs: Inputs) -> None:
    job_id = inputs.request(container)
    assert container.queue.entry(job_id).status == REQUESTED  # type: ignore[union-attr]
    assert worker(container).tick()
    job = container.app.get_job(job_id)
    expected = direct_match(container, job)
    assert job.status == COMPLETED
    assert job.outcome is not None
    assert job.outcome.decisions_hash == decisions_hash(expected)
    assert job.outcome.decision_batches == -(-expected.matches.height // BATCH_SIZE) > 3
    matches, unmatched = recorded_frames(container, job)
    assert_frame_equal(matches, expected.matches)
    assert_frame_equal(unmatched, expected.unmatched)
    assert job.outcome.counts["matched"] == expected.summary()["matched"]
    assert event_names(container, job_id) == ["JobRequested", "JobClaimed", "JobCompleted"]


def test_queue_row_follows_every_transition(container: Container, inputs: Inputs) -> None:
    app, queue = container.app, container.queue
    job_id = inputs.request(container)
    app.claim_job(job_id, "w1", "token-1", BATCH_SIZE, META)
    entry = queue.entry(job_id)
    assert entry is not None
    assert (entry.status, entry.attempts, entry.worker, entry.phase) == (
        RUNNING,
        1,
        "w1",
        "claimed",
    )
    app.cancel_job(job_id, "wrong inputs", META)
    entry = queue.entry(job_id)
    assert entry is not None
    assert entry.status == CANCELLED
    assert queue.claimable(10) == []
    with pytest.raises(JobStateError, match="cancelled"):
        app.cancel_job(job_id, "again", META)


def test_idempotency_key_names_one_job(container: Container, inputs: Inputs) -> None:
    app = container.app
    asked = (inputs.project_id, inputs.left_id, inputs.right_id, inputs.version, META)
    first, status = app.request_job_status(*asked, "close-2024-01")
    assert status == REQUESTED
    app.cancel_job(first, "wrong period", META)
    # The key's job, in its current status; nothing new in the queue.
    assert app.request_job_status(*asked, "close-2024-01") == (first, CANCELLED)
    assert inputs.request(container, key="close-2024-01") == first
    assert len(container.queue.entries()) == 1


def test_a_reused_key_is_a_conflict_before_the_body_is_checked(
    container: Container, inputs: Inputs
) -> None:
    """The key decides first: a reused key with another body is a conflict, even when that
    body names a source that does not exist."""
    inputs.request(container, key="close-2024-02")
    with pytest.raises(ConflictError, match="close-2024-02"):
        container.app.request_job(
            inputs.project_id, inputs.left_id, uuid4(), inputs.version, META, "close-2024-02"
        )
    with pytest.raises(NotFoundError):  # without the key, the body's error
        container.app.request_job(inputs.project_id, inputs.left_id, uuid4(), inputs.version, META)


def test_retry_after_a_crash_mid_recording_duplicates_nothing(
    container: Container, inputs: Inputs, database_url: str
) -> None:
    app = container.app
    job_id = inputs.request(container)
    job = app.claim_job(job_id, "crashing", "token-1", BATCH_SIZE, META)
    partial = direct_match(container, job).matches.head(3 * BATCH_SIZE)
    guard = QueueGuard(job_id, RUNNING, "token-1")
    Recorder(app, container.queue, guard, BATCH_SIZE, META).record(DECISIONS, partial, print)
    make_stale(database_url)  # the crashed worker never heartbeats again
    survivor = worker(container, batch_size=7)  # the setting changed since: ignored
    survivor.maintain()  # takes the lease over: the attempt fails, retried at once
    survivor.tick()
    job = app.get_job(job_id)
    assert job.status == COMPLETED
    assert job.takeovers == 1
    assert job.outcome is not None
    matches, _ = recorded_frames(container, job)
    assert_frame_equal(matches, direct_match(container, job).matches)
    assert job.outcome.decision_batches == -(-matches.height // BATCH_SIZE)
    assert batch_events(container, job_id) == (
        job.outcome.decision_batches + job.outcome.unmatched_batches
    )


def test_a_lease_lost_between_saves_stops_the_recording_there(
    container: Container, inputs: Inputs, database_url: str
) -> None:
    """The next save's batches are encoded while one is saved: a lease taken over after
    the first save still leaves exactly that save's batches, in order, and nothing after."""
    app = container.app
    job_id = inputs.request(container)
    job = app.claim_job(job_id, "slow", "token-1", 2, META)
    matches = direct_match(container, job).matches
    assert matches.height > 2 * 2 * BATCHES_PER_TRANSACTION  # three saves at least
    saves: list[int] = []

    def taken_over_after_the_first(rows: int) -> None:
        saves.append(rows)
        if len(saves) == 2:  # the first call counts batches recorded before: none
            make_stale(database_url)
            worker(container).maintain()

    recorder = Recorder(app, container.queue, QueueGuard(job_id, RUNNING, "token-1"), 2, META)
    with pytest.raises(LeaseLostError):
        recorder.record(DECISIONS, matches, taken_over_after_the_first)
    assert saves == [0, 2 * BATCHES_PER_TRANSACTION]
    assert batch_events(container, job_id) == BATCHES_PER_TRANSACTION
    assert container.queue.recorded(
        [batch_id(job_id, DECISIONS, number) for number in range(BATCHES_PER_TRANSACTION + 1)]
    ) == {batch_id(job_id, DECISIONS, number) for number in range(BATCHES_PER_TRANSACTION)}


def test_a_fenced_worker_cannot_record_or_complete(
    container: Container, inputs: Inputs, database_url: str
) -> None:
    app = container.app
    job_id = inputs.request(container)
    job = app.claim_job(job_id, "stalled", "token-old", BATCH_SIZE, META)
    result = direct_match(container, job)
    make_stale(database_url)
    worker(container).tick()  # takes over, retries and completes the job
    old = Recorder(app, container.queue, QueueGuard(job_id, RUNNING, "token-old"), 50, META)
    before = batch_events(container, job_id)
    with pytest.raises(LeaseLostError):
        old.record(DECISIONS, result.matches.with_columns(rule=pl.lit("late")), print)
    job = app.get_job(job_id)
    assert job.outcome is not None
    with pytest.raises(LeaseLostError):
        app.complete_job(job_id, "token-old", job.outcome, META)
    assert batch_events(container, job_id) == before
    assert event_names(container, job_id).count("JobCompleted") == 1


def test_heartbeat_of_a_taken_over_lease_reports_it_lost(
    container: Container, inputs: Inputs, database_url: str
) -> None:
    app, queue = container.app, container.queue
    job_id = inputs.request(container)
    app.claim_job(job_id, "w1", "token-1", BATCH_SIZE, META)
    assert queue.heartbeat(job_id, "token-1", PROGRESS)
    make_stale(database_url)
    worker(container).maintain()
    assert app.get_job(job_id).status == REQUESTED  # failed, then retried (no backoff)
    assert not queue.heartbeat(job_id, "token-1", PROGRESS)


def test_poison_job_is_dead_lettered_after_max_attempts(
    container: Container, inputs: Inputs
) -> None:
    job_id = inputs.request(container)
    object_path(container, inputs).write_bytes(b"PAR1 this is not parquet")
    runner = worker(container, max_attempts=3)
    for _ in range(5):
        runner.tick()
    job = container.app.get_job(job_id)
    assert job.status == DEAD_LETTERED
    assert (job.attempts, job.failures) == (3, 3)
    assert [entry.job_id for entry in container.queue.entries((DEAD_LETTERED,))] == [job_id]
    assert event_names(container, job_id).count("JobFailed") == 3


def test_flaky_job_succeeds_on_retry(container: Container, inputs: Inputs) -> None:
    job_id = inputs.request(container)
    stored = object_path(container, inputs)
    aside = stored.with_suffix(".aside")
    shutil.move(stored, aside)
    runner = worker(container)
    runner.tick()
    job = container.app.get_job(job_id)
    assert job.status == FAILED
    assert "not found" in job.last_error
    shutil.move(aside, stored)
    runner.tick()
    assert container.app.get_job(job_id).status == COMPLETED


def test_an_error_that_cannot_succeed_dead_letters_at_once(
    container: Container, inputs: Inputs
) -> None:
    job_id = inputs.request(container)
    pl.DataFrame({"other": [1, 2]}).write_parquet(object_path(container, inputs))
    worker(container, max_attempts=5).tick()
    job = container.app.get_job(job_id)
    assert (job.status, job.attempts) == (DEAD_LETTERED, 1)
    assert "BadInputError" in job.last_error


def test_redrive_runs_a_dead_letter_once(container: Container, inputs: Inputs) -> None:
    app = container.app
    job_id = inputs.request(container)
    stored = object_path(container, inputs)
    good = stored.read_bytes()
    stored.write_bytes(b"corrupt")
    runner = worker(container, max_attempts=1)
    runner.tick()
    assert app.get_job(job_id).status == DEAD_LETTERED
    stored.write_bytes(good)
    app.redrive_job(job_id, META)
    with pytest.raises(JobStateError, match="cannot redrive"):
        app.redrive_job(job_id, META)
    runner.tick()
    runner.tick()
    job = app.get_job(job_id)
    assert job.status == COMPLETED
    assert event_names(container, job_id).count("JobClaimed") == 2
    assert job.dead_letters == 1


def test_cancelling_a_running_job_fences_its_worker(container: Container, inputs: Inputs) -> None:
    app = container.app
    job_id = inputs.request(container)
    job = app.claim_job(job_id, "w1", "token-1", BATCH_SIZE, META)
    app.cancel_job(job_id, "no longer needed", META)
    guard = QueueGuard(job_id, RUNNING, "token-1")
    late = Recorder(app, container.queue, guard, BATCH_SIZE, META)
    with pytest.raises(LeaseLostError):
        late.record(DECISIONS, direct_match(container, job).matches, print)
    assert batch_events(container, job_id) == 0


def test_racing_workers_claim_each_job_exactly_once(
    container: Container, inputs: Inputs, threads: Threads, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Racers start together, and at least one of them loses a claim to another: a race
    that never happened would prove nothing."""
    jobs = [inputs.request(container, key=f"race-{n}") for n in range(8)]
    claimed: list[UUID] = []
    lost: list[UUID] = []
    claim_job = container.app.claim_job

    def counted_claim(job: UUID, *args: Any) -> Job:
        try:
            return claim_job(job, *args)
        except (ConflictError, NotFoundError):
            lost.append(job)
            raise

    monkeypatch.setattr(container.app, "claim_job", counted_claim)
    start = threading.Barrier(4, timeout=30)

    def claim_all(racer: Worker) -> None:
        # A racer's pick skips the rows another is picking at that moment, so it may find
        # nothing while jobs are left: racers go on until none is, at most 100 picks each.
        start.wait()
        for _ in range(100):
            if not container.queue.entries((REQUESTED,)):
                return
            if (job := racer.claim_next()) is not None:
                claimed.append(job.id)

    for _ in range(4):
        threads.start(claim_all, worker(container))
    threads.join(timeout=60)  # a racer's exception fails the test here
    assert sorted(claimed) == sorted(jobs)
    assert lost, "no racer ever lost a claim: the race was not run"
    for job_id in jobs:
        assert event_names(container, job_id).count("JobClaimed") == 1


def test_run_until_done_reports_progress_and_returns_the_ended_job(
    container: Container, inputs: Inputs
) -> None:
    job_id = inputs.request(container)
    seen: list[QueueEntry] = []
    job = run_until_done(container, job_id, seen.append, timeout_seconds=60)
    assert job.status == COMPLETED
    assert seen[-1].status == COMPLETED
    assert seen[-1].rows_processed == seen[-1].rows_total > 0
