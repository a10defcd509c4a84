"""Fault tests: real `tieout worker` processes killed, stopped and terminated mid-job.

Every loop is bounded in count and time. The inputs are small (a few thousand rows) and
the decision batches tiny (5 decisions), so that each job spends a second or more recording
decisions in hundreds of transactions: the window in which the faults land. With batches
of 20 a job recorded in 0.35 s on a fast machine, and the kill test could miss the phase it
waited for; it now also stops waiting once every job has ended.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from uuid import UUID

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from demo.datagen import generate_bank_ledger
from demo.narrated import demo_ruleset_text
from engine.domain.decisions import (
    DECISIONS,
    UNMATCHED,
    DecisionBatch,
    UnmatchedBatch,
    batch_id,
)
from engine.domain.job import COMPLETED, DEAD_LETTERED, ENDED, RUNNING, Job
from engine.domain.meta import event_meta
from engine.ingest import load_source
from engine.matching import MatchResult, match
from engine.worker.details import DETAIL_COLUMNS
from tieout.bootstrap import Container

META = event_meta(actor="user:test", causation="test")
TIEOUT = str(Path(sys.executable).parent / "tieout")
FAST = {
    "TIEOUT_LEASE_SECONDS": "1.5",
    "TIEOUT_HEARTBEAT_SECONDS": "0.3",
    "TIEOUT_POLL_SECONDS": "0.1",
    "TIEOUT_RETRY_BACKOFF_SECONDS": "0",
    "TIEOUT_MAX_ATTEMPTS": "50",
    "TIEOUT_DECISION_BATCH_SIZE": "5",
    "TIEOUT_METRICS_PORT": "0",
    "TIEOUT_WORKER_CONCURRENCY": "1",
    "TIEOUT_LOG_LEVEL": "INFO",
}
# For the tests that assert a job was never taken over: a heartbeat late by 1.5 s on a
# loaded 2-core machine would be a takeover nobody caused. Costs one longer wait where a
# takeover is the point (the stopped worker's).
STEADY = FAST | {"TIEOUT_LEASE_SECONDS": "5"}
pytestmark = pytest.mark.slow


def request_jobs(container: Container, tmp_path: Path, count: int, rows: int) -> list[UUID]:
    app = container.app
    project = app.create_project("faults", META)
    version = app.publish_ruleset(project, demo_ruleset_text(), META)
    left, right = generate_bank_ledger(rows, seed=11).write_csv(tmp_path / "inputs")
    left_id = app.register_source_file(project, left, META)
    right_id = app.register_source_file(project, right, META)
    return [
        app.request_job(project, left_id, right_id, version, META, f"job-{n}") for n in range(count)
    ]


@contextmanager
def worker_process(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        process = subprocess.Popen([TIEOUT, "worker"], env=env, stdout=out, stderr=out)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def all_ended(container: Container, jobs: list[UUID]) -> bool:
    return all(container.app.get_job(job).status in ENDED for job in jobs)


def expected_result(container: Container, job: Job) -> MatchResult:
    app = container.app
    frames = [
        load_source(container.object_store, app.get_source(job.project_id, source).location)
        for source in (job.left_source_id, job.right_source_id)
    ]
    return match(frames[0], frames[1], app.get_ruleset(job.project_id, job.ruleset_version))


def batch(container: Container, stream_id: UUID) -> DecisionBatch | UnmatchedBatch:
    found: object = container.app.repository.get(stream_id)
    assert isinstance(found, DecisionBatch | UnmatchedBatch)
    return found


def assert_recorded_exactly_once(container: Container, job: Job, expected: MatchResult) -> None:
    """The job's batches hold exactly the matcher's decisions, each batch written once."""
    assert job.outcome is not None
    counts = {DECISIONS: job.outcome.decision_batches, UNMATCHED: job.outcome.unmatched_batches}
    streams = {batch_id(job.id, kind, n) for kind, count in counts.items() for n in range(count)}
    log = container.app.recorder.select_notifications(start=None, limit=10_000_000)
    written = [n.originator_id for n in log if n.originator_id in streams]
    assert sorted(written) == sorted(streams)
    for kind, frame in ((DECISIONS, expected.matches), (UNMATCHED, expected.unmatched)):
        parts = [batch(container, batch_id(job.id, kind, n)) for n in range(counts[kind])]
        assert sum(part.rows for part in parts) == frame.height
        recorded = pl.concat([part.frame() for part in parts])
        assert_frame_equal(recorded.drop(DETAIL_COLUMNS, strict=False), frame)


def running_phase(container: Container, pid: int, prefix: str) -> bool:
    """Whether worker process `pid` is running a job in a phase starting with `prefix`."""
    return any(
        entry.phase.startswith(prefix) and entry.worker.endswith(f"-{pid}")
        for entry in container.queue.entries((RUNNING,))
    )


def phase_or_done(container: Container, pid: int, prefix: str, jobs: list[UUID]) -> bool:
    """Whether worker `pid` is in a phase starting with `prefix`, or every job has ended."""
    return running_phase(container, pid, prefix) or all_ended(container, jobs)


def test_kill_9_at_random_moments_loses_and_duplicates_nothing(
    container: Container, cli_env: dict[str, str], tmp_path: Path
) -> None:
    jobs = request_jobs(container, tmp_path, count=6, rows=5000)
    env = cli_env | FAST
    chaos = random.Random(20261123)  # noqa: S311 - reproducible timing, not secrets
    log = tmp_path / "workers.log"
    plan = ["matching", "recording", "recording", "random"] * 3
    landed = 0
    for moment in plan:
        with worker_process(env, log) as process:
            if moment == "random":
                time.sleep(chaos.uniform(1.6, 3.2))
            else:
                # on a fast machine the last jobs can end between two looks at the queue
                in_phase = partial(phase_or_done, container, process.pid, moment, jobs)
                wait_for(in_phase, 60, f"a job {moment}")
                landed += not all_ended(container, jobs)
            process.send_signal(signal.SIGKILL)
        if all_ended(container, jobs):
            break
    with worker_process(env, log):
        wait_for(lambda: all_ended(container, jobs), 120, "every job to end")
    finished = [container.app.get_job(job) for job in jobs]
    assert {job.status for job in finished} == {COMPLETED}
    assert sum(job.takeovers for job in finished) >= landed > 0
    expected = expected_result(container, finished[0])
    for job in finished:
        assert_recorded_exactly_once(container, job, expected)


def event_names(container: Container, job_id: UUID) -> list[str]:
    return [type(event).__name__ for event in container.app.events.get(job_id)]


def test_a_stopped_worker_whose_lease_was_taken_over_cannot_complete(
    container: Container, cli_env: dict[str, str], tmp_path: Path
) -> None:
    (job_id,) = request_jobs(container, tmp_path, count=1, rows=5000)
    env = cli_env | STEADY
    stalled_log = tmp_path / "stalled.log"
    with worker_process(env, stalled_log) as stalled:
        pid = stalled.pid
        wait_for(lambda: running_phase(container, pid, "recording"), 60, "recording")
        stalled.send_signal(signal.SIGSTOP)
        with worker_process(env, tmp_path / "rescuer.log"):
            wait_for(lambda: all_ended(container, [job_id]), 60, "the takeover to complete")
        stalled.send_signal(signal.SIGCONT)
        wait_for(lambda: b"lease lost" in stalled_log.read_bytes(), 20, "the late write")
        stalled.send_signal(signal.SIGTERM)
        assert stalled.wait(timeout=20) == 0
    job = container.app.get_job(job_id)
    assert job.status == COMPLETED
    assert job.takeovers == 1
    assert event_names(container, job_id).count("JobCompleted") == 1
    assert_recorded_exactly_once(container, job, expected_result(container, job))


def test_sigterm_finishes_the_job_in_hand_and_a_second_releases_it(
    container: Container, cli_env: dict[str, str], tmp_path: Path
) -> None:
    first, second = request_jobs(container, tmp_path, count=2, rows=5000)
    env = cli_env | STEADY
    with worker_process(env, tmp_path / "graceful.log") as graceful:
        pid = graceful.pid
        wait_for(lambda: running_phase(container, pid, "recording"), 60, "recording")
        graceful.send_signal(signal.SIGTERM)
        assert graceful.wait(timeout=30) == 0
    ended = {job: container.app.get_job(job) for job in (first, second)}
    finished = [job for job in ended.values() if job.status == COMPLETED]
    assert len(finished) == 1
    assert finished[0].attempts == 1
    (left,) = (job.id for job in ended.values() if job.status != COMPLETED)
    log = tmp_path / "released.log"
    with worker_process(env, log) as released:
        pid = released.pid
        wait_for(lambda: running_phase(container, pid, "recording"), 60, "recording")
        released.send_signal(signal.SIGTERM)
        # Signals of one kind do not queue: send the second once the first was handled.
        wait_for(lambda: b"stopping after" in log.read_bytes(), 20, "the first SIGTERM")
        released.send_signal(signal.SIGTERM)
        assert released.wait(timeout=30) == 0
    job = container.app.get_job(left)
    assert (job.status, job.attempts, job.failures) == ("requested", 1, 0)
    assert event_names(container, left)[-1] == "JobRequeued"
    with worker_process(env, log):
        wait_for(lambda: all_ended(container, [left]), 60, "the released job to end")
    job = container.app.get_job(left)
    assert (job.status, job.attempts) == (COMPLETED, 2)
    assert_recorded_exactly_once(container, job, expected_result(container, job))


def test_a_failed_job_is_retried_after_its_backoff_then_dead_lettered(
    container: Container, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """Backoff end to end: the settings reach the worker, each failure records its delay
    (base, doubled, capped; none once attempts run out) and the retry waits for it."""
    (job_id,) = request_jobs(container, tmp_path, count=1, rows=50)
    job = container.app.get_job(job_id)
    source = container.app.get_source(job.project_id, job.left_source_id)
    stored = Path(container.settings.object_store_location) / source.location
    stored.write_bytes(b"PAR1 this is not parquet")  # fails every attempt, worth retrying
    env = (
        cli_env
        | FAST
        | {
            "TIEOUT_RETRY_BACKOFF_SECONDS": "1",
            "TIEOUT_RETRY_BACKOFF_MAX_SECONDS": "1.5",
            "TIEOUT_MAX_ATTEMPTS": "3",
        }
    )
    with worker_process(env, tmp_path / "backoff.log"):
        wait_for(lambda: all_ended(container, [job_id]), 60, "the job to be dead-lettered")
    events = list(container.app.events.get(job_id))
    failed = [event for event in events if isinstance(event, Job.JobFailed)]
    assert [event.retry_in_seconds for event in failed] == [1.0, 1.5, 0.0]
    claimed = [event for event in events if isinstance(event, Job.JobClaimed)]
    assert len(claimed) == 3
    for failure, retry in zip(failed, claimed[1:], strict=False):
        waited = (retry.timestamp - failure.timestamp).total_seconds()
        assert waited >= failure.retry_in_seconds - 0.05, (waited, failure.retry_in_seconds)
    assert container.app.get_job(job_id).status == DEAD_LETTERED
