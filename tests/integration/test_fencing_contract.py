"""One contract for lease fencing, run on the in-memory event store and on PostgreSQL.

`FencedRecorder.insert_fenced` is the rule that keeps a job from being recorded twice: a
save under a lease that was taken over, or of a job no longer in the guarded state,
writes nothing at all (no event, no queue change). The in-memory recorder applies it
without a server, so the rule is tested where it is cheapest and where it matters.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.sql import SQL, Composed

from engine.application import Tieout
from engine.domain.decisions import DecisionBatch
from engine.domain.job import (
    COMPLETED,
    FAILED,
    REQUESTED,
    RUNNING,
    JobOutcome,
    JobStateError,
    LeaseLostError,
    RetryPolicy,
)
from engine.domain.meta import event_meta
from engine.domain.queue import QueueGuard
from engine.memory import InMemoryFencedRecorder, InMemoryJobQueue
from engine.ports import JobProgress, JobQueue
from projections.job_recorder import PostgresFencedRecorder
from snapshots.stores import LocalObjectStore
from tieout.bootstrap import Container

META = event_meta(actor="service:test", causation="test")
POLICY = RetryPolicy(max_attempts=3, backoff_seconds=0, backoff_max_seconds=0)
RULES = (
    "left: {id: id}\nright: {id: id}\nrules:\n  - name: r\n    when:\n"
    "      - {left: amount, right: amount, op: equals}\n"
)
OUTCOME = JobOutcome(
    counts={"matched": 0, "suggested": 0, "unmatched_left": 1, "unmatched_right": 1},
    inputs_hash="0" * 64,
    ruleset_version=1,
    engine_version="test",
    decisions_hash="1" * 64,
    decision_batches=0,
    unmatched_batches=0,
)


@dataclass
class Harness:
    app: Tieout
    queue: JobQueue
    job_id: UUID


class FencingContract(ABC):
    """What every FencedRecorder (with its JobQueue) must do."""

    @abstractmethod
    def age_leases(self, harness: Harness, seconds: float) -> None:
        """Make every running lease look `seconds` older than it is."""

    @pytest.fixture
    def harness(self, app_and_queue: tuple[Tieout, JobQueue], tmp_path: Path) -> Harness:
        app, queue = app_and_queue
        project = app.create_project("p", META)
        version = app.publish_ruleset(project, RULES, META)
        csv = tmp_path / "side.csv"
        csv.write_text("id,amount\n1,10.5\n", encoding="utf-8")
        source = app.register_source_file(project, csv, META)
        return Harness(app, queue, app.request_job(project, source, source, version, META))

    def head(self, harness: Harness) -> int:
        return harness.app.recorder.max_notification_id() or 0

    def test_a_requested_job_is_in_the_queue(self, harness: Harness) -> None:
        entry = harness.queue.entry(harness.job_id)
        assert entry is not None
        assert entry.status == REQUESTED
        assert harness.queue.claimable(10) == [harness.job_id]

    def test_the_lease_holder_completes(self, harness: Harness) -> None:
        app = harness.app
        app.claim_job(harness.job_id, "w1", "lease-1", 100, META)
        app.complete_job(harness.job_id, "lease-1", OUTCOME, META)
        assert app.get_job(harness.job_id).status == COMPLETED
        assert harness.queue.entry(harness.job_id).status == COMPLETED  # type: ignore[union-attr]

    def test_a_second_claim_is_refused_and_writes_nothing(self, harness: Harness) -> None:
        app = harness.app
        app.claim_job(harness.job_id, "w1", "lease-1", 100, META)
        stale = app.get_job(harness.job_id)  # another worker's copy, read before the claim ended
        head = self.head(harness)
        with pytest.raises(JobStateError, match=r"no longer requested|cannot claim|running"):
            app.claim_job(harness.job_id, "w2", "lease-2", 100, META)
        assert self.head(harness) == head
        assert app.get_job(harness.job_id).worker == "w1"
        assert stale.version == app.get_job(harness.job_id).version

    def test_a_taken_over_worker_cannot_complete(self, harness: Harness) -> None:
        app = harness.app
        app.claim_job(harness.job_id, "w1", "lease-1", 100, META)
        self.age_leases(harness, 3600)
        app.take_over_job(harness.job_id, 60, POLICY, META)
        assert app.get_job(harness.job_id).status == FAILED
        head = self.head(harness)
        with pytest.raises(LeaseLostError):
            app.complete_job(harness.job_id, "lease-1", OUTCOME, META)
        assert self.head(harness) == head
        assert harness.queue.entry(harness.job_id).status == FAILED  # type: ignore[union-attr]

    def test_the_guard_alone_fences_a_save(self, harness: Harness) -> None:
        """A worker whose job was taken over and claimed again (running again, under
        another lease) records a batch: a new stream, so no version clash can refuse it,
        and the job is in the guarded status; only the guard's lease token refuses it. Its
        own copy of the job, whose domain check still passes, is refused the same way."""
        app = harness.app
        app.claim_job(harness.job_id, "w1", "lease-1", 100, META)
        late = app.get_job(harness.job_id)
        self.age_leases(harness, 3600)
        app.take_over_job(harness.job_id, 60, POLICY, META)
        app.retry_job(harness.job_id, META)
        app.claim_job(harness.job_id, "w2", "lease-2", 100, META)
        batch = DecisionBatch(
            job_id=harness.job_id, batch=0, first_row=0, rows=0, format="x", data="", meta=META
        )
        late.complete("lease-1", OUTCOME, META)  # its copy of the job agrees
        head = self.head(harness)
        with pytest.raises(LeaseLostError, match="lease-1"):
            app.save_fenced([batch], guard=QueueGuard(harness.job_id, RUNNING, "lease-1"))
        assert harness.queue.recorded([batch.id]) == set()
        with pytest.raises(LeaseLostError, match="lease-1"):
            app.save_fenced([late], guard=QueueGuard(late.id, RUNNING, "lease-1"))
        assert self.head(harness) == head
        entry = harness.queue.entry(harness.job_id)
        assert entry is not None
        assert (entry.status, entry.worker) == (RUNNING, "w2")

    def test_a_batch_under_a_lost_lease_writes_nothing(self, harness: Harness) -> None:
        app = harness.app
        app.claim_job(harness.job_id, "w1", "lease-1", 100, META)
        app.cancel_job(harness.job_id, "stop", META)
        batch = DecisionBatch(
            job_id=harness.job_id, batch=0, first_row=0, rows=0, format="x", data="", meta=META
        )
        head = self.head(harness)
        with pytest.raises(LeaseLostError):
            app.save_fenced([batch], guard=QueueGuard(harness.job_id, RUNNING, "lease-1"))
        assert self.head(harness) == head
        assert harness.queue.recorded([batch.id]) == set()

    def test_a_fresh_lease_is_not_taken_over(self, harness: Harness) -> None:
        app = harness.app
        app.claim_job(harness.job_id, "w1", "lease-1", 100, META)
        assert harness.queue.stale_leases(60, 10) == []
        head = self.head(harness)
        with pytest.raises(LeaseLostError):  # the guard wants a lease stale for 60 s
            app.take_over_job(harness.job_id, 60, POLICY, META)
        assert self.head(harness) == head
        assert app.get_job(harness.job_id).status == RUNNING
        self.age_leases(harness, 3600)
        assert harness.queue.stale_leases(60, 10) == [harness.job_id]

    def test_heartbeats_need_the_current_lease(self, harness: Harness) -> None:
        app = harness.app
        app.claim_job(harness.job_id, "w1", "lease-1", 100, META)
        progress = JobProgress("matching", 5, 10)
        assert harness.queue.heartbeat(harness.job_id, "lease-1", progress)
        assert not harness.queue.heartbeat(harness.job_id, "lease-0", progress)
        entry = harness.queue.entry(harness.job_id)
        assert entry is not None
        assert (entry.phase, entry.rows_processed, entry.rows_total) == ("matching", 5, 10)

    def test_an_entry_is_the_job_as_its_events_left_it(self, harness: Harness) -> None:
        """docs/jobs.md: a claim starts the progress over at phase `claimed`; after the
        attempt the phase is the job's status."""
        app = harness.app
        app.claim_job(harness.job_id, "w1", "lease-1", 100, META)
        assert harness.queue.heartbeat(harness.job_id, "lease-1", JobProgress("matching", 7, 9))
        app.release_job(harness.job_id, "lease-1", "shutdown", META)
        app.claim_job(harness.job_id, "w1", "lease-2", 100, META)
        entry = harness.queue.entry(harness.job_id)
        assert entry is not None
        assert (entry.status, entry.phase, entry.rows_processed) == (RUNNING, "claimed", 0)
        app.fail_job(harness.job_id, "lease-2", "disk full", POLICY, META)
        entry = harness.queue.entry(harness.job_id)
        assert entry is not None
        assert entry.phase == FAILED
        assert entry.project_id == app.get_job(harness.job_id).project_id
        assert (entry.status, entry.attempts, entry.failures) == (FAILED, 2, 1)
        assert (entry.worker, entry.last_error) == ("w1", "disk full")
        assert entry.created_at.tzinfo is not None
        assert entry.heartbeat_age_seconds is None  # heartbeated once, but no longer running

    def test_a_completed_job_counts_in_the_durations(self, harness: Harness) -> None:
        harness.app.claim_job(harness.job_id, "w1", "lease-1", 100, META)
        harness.app.complete_job(harness.job_id, "lease-1", OUTCOME, META)
        stats = harness.queue.stats((3600.0,))
        assert stats.duration_bucket_counts == [1, 0]
        assert 0.0 <= stats.duration_sum_seconds < 3600.0

    def test_recorded_names_the_streams_that_have_events(self, harness: Harness) -> None:
        assert harness.queue.recorded([harness.job_id, uuid4()]) == {harness.job_id}

    def test_a_concurrent_save_of_the_same_version_is_a_conflict(self, harness: Harness) -> None:
        app = harness.app
        first, second = app.get_job(harness.job_id), app.get_job(harness.job_id)
        first.cancel("one", META)
        second.cancel("two", META)
        app.save_job(first, QueueGuard(first.id, REQUESTED))
        head = self.head(harness)
        with pytest.raises(JobStateError):
            app.save_job(second, QueueGuard(second.id, REQUESTED))
        assert self.head(harness) == head


class TestInMemoryFencing(FencingContract):
    @pytest.fixture
    def app_and_queue(self, tmp_path: Path) -> Iterator[tuple[Tieout, JobQueue]]:
        self.now = 1000.0
        recorder = InMemoryFencedRecorder(clock=lambda: self.now)
        app = Tieout(
            {"PERSISTENCE_MODULE": "eventsourcing.popo"},
            LocalObjectStore(tmp_path / "objects"),
            lambda _: recorder,
        )
        yield app, InMemoryJobQueue(recorder)
        app.close()

    def age_leases(self, harness: Harness, seconds: float) -> None:
        del harness
        self.now += seconds


class TestPostgresFencing(FencingContract):
    @pytest.fixture
    def app_and_queue(self, container: Container) -> tuple[Tieout, JobQueue]:
        self.url = container.database_url
        return container.app, container.queue

    def test_a_claim_skips_a_row_another_save_holds(self, harness: Harness) -> None:
        """Two workers picked the same job: the second claim gives up at once (SKIP LOCKED)
        instead of queueing behind the first one's transaction."""
        with psycopg.connect(self.url) as holder, ThreadPoolExecutor(1) as pool:
            holder.execute(
                "SELECT 1 FROM tieout_job_queue WHERE job_id = %s FOR UPDATE", (harness.job_id,)
            )
            claim = pool.submit(harness.app.claim_job, harness.job_id, "w2", "l2", 100, META)
            try:
                with pytest.raises(JobStateError, match="no longer requested"):
                    claim.result(timeout=10)
            finally:
                holder.rollback()
        assert harness.app.get_job(harness.job_id).status == REQUESTED

    def test_a_completion_waits_for_a_row_another_save_holds(self, harness: Harness) -> None:
        """Only a claim skips a locked row: the lease holder's save waits its turn and then
        goes through, rather than failing on a row a heartbeat or a picker holds a moment."""
        harness.app.claim_job(harness.job_id, "w1", "lease-1", 100, META)
        with psycopg.connect(self.url) as holder, ThreadPoolExecutor(1) as pool:
            holder.execute(
                "SELECT 1 FROM tieout_job_queue WHERE job_id = %s FOR UPDATE", (harness.job_id,)
            )
            save = pool.submit(harness.app.complete_job, harness.job_id, "lease-1", OUTCOME, META)
            try:
                waited = self.wait_for_a_lock_wait(save)
            finally:
                holder.rollback()
            save.result(timeout=10)
        assert waited
        assert harness.app.get_job(harness.job_id).status == COMPLETED

    def test_events_go_to_the_server_in_binary(self, harness: Harness) -> None:
        """The INSERT binds its one parameter, every event of the save, in binary (`%b`):
        in text each byte of a batch's state would be escaped twice over."""
        recorder = harness.app.fenced
        assert isinstance(recorder, PostgresFencedRecorder)
        statement = recorder.insert_events_statement.as_string(None)
        assert "unnest(%b::" in statement
        assert "%s" not in statement

    def test_a_changed_library_insert_stops_the_recorder(self, harness: Harness) -> None:
        """Should an upgrade of eventsourcing change the INSERT the recorder rewrites, the
        recorder refuses to start and shows the statement, rather than send it as it is."""
        recorder = harness.app.fenced
        assert isinstance(recorder, PostgresFencedRecorder)
        with pytest.raises(RuntimeError, match=r"INSERT has changed: INSERT INTO changed"):
            OnAChangedLibrary(recorder.datastore, events_table_name="tieout_events")

    def wait_for_a_lock_wait(self, save: Future[None]) -> bool:
        """Whether another session came to wait on a row lock before `save` ended."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            deadline = time.monotonic() + 10
            while not save.done() and time.monotonic() < deadline:
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                ).fetchone()
                if row is not None and row[0] > 0:
                    return True
                time.sleep(0.02)
        return False

    def age_leases(self, harness: Harness, seconds: float) -> None:
        del harness
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(
                "UPDATE tieout_job_queue"
                " SET heartbeat_at = heartbeat_at - make_interval(secs => %s)",
                (seconds,),
            )


class AChangedLibrary(PostgresApplicationRecorder):
    """eventsourcing's recorder as a release that no longer inserts through `unnest(%s::`
    might be."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.insert_events_statement = Composed([SQL("INSERT INTO changed SELECT %s")])


class OnAChangedLibrary(PostgresFencedRecorder, AChangedLibrary):
    """Tieout's recorder over it: its check runs after `AChangedLibrary.__init__`."""
