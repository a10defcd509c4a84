"""The audit index on a real PostgreSQL: metadata, restarts, unknown events, rebuild, filters."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import polars as pl
import psycopg
import pytest
from eventsourcing.persistence import StoredEvent, Tracking
from prometheus_client import CollectorRegistry
from threads import Threads

from engine.domain.decisions import ARROW_FORMAT, DecisionBatch, encode_rows
from engine.domain.job import Job
from engine.domain.meta import event_meta
from engine.domain.project import Project
from engine.errors import BadInputError
from projections import projector
from projections.audit import AuditIndexView
from projections.audit_query import AuditFilters, parse_filters
from projections.audit_rows import event_entry
from projections.projector import LagGauge, lag, rebuild, run_projector
from projections.registry import ProjectionSpec
from projections.tracking import ProjectionResetError
from tieout.bootstrap import Container
from tieout.cli import main

ALICE = event_meta(actor="user:alice@example.com", causation="projects.create", request_id="r-1")
BOB = event_meta(actor="user:bob@example.com", causation="rulesets.publish", request_id="r-2")
RULES = """
left:  {id: txn_id}
right: {id: entry_id}
rules:
  - name: exact-reference
    when:
      - {left: reference, right: ref, op: equals}
"""
Row = tuple[Any, ...]


def audit_spec(container: Container) -> ProjectionSpec:
    return container.projections.named("audit_index")


@contextmanager
def audit_index(container: Container) -> Iterator[tuple[Any, AuditIndexView]]:
    with container.projections.opened(audit_spec(container)) as (log, view):
        assert isinstance(view, AuditIndexView)
        yield log, view


def project_with_runner(container: Container, timeout: float = 15.0) -> None:
    """Run eventsourcing's ProjectionRunner until the index reaches the head of the log."""
    with audit_index(container) as (log, _):
        head = log.recorder.max_notification_id()
    runner = container.projections.runner(audit_spec(container))
    try:
        with runner:
            runner.wait(head, timeout=timeout)
    finally:
        runner.view.datastore.close()


def index_rows(url: str) -> list[Row]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT * FROM tieout_audit_index ORDER BY notification_id").fetchall()


def log_ids(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT notification_id FROM tieout_events ORDER BY 1").fetchall()
    return [row[0] for row in rows]


def by_type(container: Container) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for row in container.audit.events(AuditFilters(limit=1000)):
        found.setdefault(row.event_type, []).append(row)
    return found


def test_events_are_indexed_with_their_metadata(container: Container, tmp_path: Path) -> None:
    app = container.app
    project_id = app.create_project("bank", ALICE)
    app.publish_ruleset(project_id, RULES, BOB)
    csv = tmp_path / "bank.csv"
    csv.write_text("txn_id,reference\n1,a\n", encoding="utf-8")
    app.register_source_file(project_id, csv, ALICE)
    project_with_runner(container)

    rows = by_type(container)
    (created,) = rows["ProjectCreated"]
    (event,) = app.events.get(project_id, lte=1)
    assert isinstance(event, Project.ProjectCreated)
    assert (created.actor, created.request_id, created.causation) == (
        "user:alice@example.com",
        "r-1",
        "projects.create",
    )
    assert created.occurred_at == event.timestamp
    assert created.topic == "engine.domain.project:Project.ProjectCreated"
    assert (created.originator_id, created.originator_version) == (project_id, 1)
    (published,) = rows["RulesetPublished"]
    assert (published.actor, published.request_id, published.project_id) == (
        "user:bob@example.com",
        "r-2",
        project_id,
    )
    assert rows["SourceRegistered"][0].project_id == project_id
    assert sorted(row[0] for row in index_rows(container.database_url)) == log_ids(
        container.database_url
    )


def test_restart_resumes_without_duplicates_or_gaps(container: Container) -> None:
    for number in range(5):
        container.app.create_project(f"p{number}", ALICE)
    project_with_runner(container)
    first = index_rows(container.database_url)
    for number in range(5, 12):
        container.app.create_project(f"p{number}", ALICE)
    project_with_runner(container)

    rows = index_rows(container.database_url)
    assert rows[: len(first)] == first
    assert [row[0] for row in rows] == log_ids(container.database_url)
    assert len(rows) == 12


def test_a_batch_already_indexed_is_not_written_again(container: Container) -> None:
    project_id = container.app.create_project("p", ALICE)
    (event,) = container.app.events.get(project_id)
    entry = event_entry(event, 1)
    with audit_index(container) as (log, view):
        assert view.record([entry], Tracking(log.name, 1)) == 1
        assert view.record([entry], Tracking(log.name, 1)) == 0
    assert len(index_rows(container.database_url)) == 1


def test_a_writer_overtaken_by_a_rebuild_must_restart(container: Container) -> None:
    first = container.app.create_project("p", ALICE)
    second = container.app.create_project("q", ALICE)
    project_with_runner(container)
    (earlier,) = container.app.events.get(first)
    (later,) = container.app.events.get(second)
    with audit_index(container) as (log, view):
        view.reset(log.name)
        with pytest.raises(ProjectionResetError):
            view.record([event_entry(later, 2)], Tracking(log.name, 2))
        assert index_rows(container.database_url) == []
        # restarted from the view's position (0), the same writer gets both events in
        entries = [event_entry(earlier, 1), event_entry(later, 2)]
        assert view.record(entries, Tracking(log.name, 2)) == 2
    assert [row[0] for row in index_rows(container.database_url)] == [1, 2]


def test_unknown_and_undecodable_events_are_indexed(container: Container) -> None:
    app = container.app
    project_id = app.create_project("p", ALICE)
    job = Job(project_id, uuid4(), uuid4(), 1, "", meta=ALICE)
    job.claim("worker-1", "lease-1", 5_000, event_meta("service:worker-1", "jobs.claim"))
    decided = pl.DataFrame({"left_id": ["1"]})
    batch = DecisionBatch(
        job.id, 0, 0, decided.height, ARROW_FORMAT, encode_rows(decided), meta=ALICE
    )
    app.save(job, batch)
    future, damaged = uuid4(), uuid4()
    state = app.mapper.transcoder.encode(
        {"timestamp": datetime.now(UTC), "meta": dict(BOB), "shiny": 1}
    )
    app.recorder.insert_events(
        [
            StoredEvent(future, 1, "engine.domain.future:Audit.Teleported", state),
            StoredEvent(damaged, 1, "engine.domain.job:Job.JobClaimed", b"\x00not json"),
        ]
    )
    project_with_runner(container)

    rows = by_type(container)
    (claimed,) = [row for row in rows["JobClaimed"] if row.originator_id == job.id]
    assert (claimed.actor, claimed.project_id) == ("service:worker-1", project_id)
    assert rows["DecisionsRecorded"][0].project_id == project_id
    (teleported,) = rows["Teleported"]
    assert (teleported.actor, teleported.originator_id) == ("user:bob@example.com", future)
    assert teleported.occurred_at is not None
    broken = next(row for row in rows["JobClaimed"] if row.originator_id == damaged)
    assert (broken.actor, broken.occurred_at) == ("", None)
    assert [row[0] for row in index_rows(container.database_url)] == log_ids(container.database_url)


def test_rebuild_gives_identical_rows(container: Container) -> None:
    app = container.app
    for number in range(30):
        project = app.create_project(f"p{number}", ALICE)
        app.publish_ruleset(project, RULES, BOB)
    project_with_runner(container)
    before = index_rows(container.database_url)

    rebuilt = {done.projection: done for done in rebuild(container.projections)}

    assert rebuilt["audit_index"].events == 60
    assert index_rows(container.database_url) == before


def test_filters(container: Container) -> None:
    app = container.app
    alices = [app.create_project(f"a{number}", ALICE) for number in range(3)]
    app.publish_ruleset(alices[0], RULES, BOB)
    project_with_runner(container)
    found = container.audit.events(AuditFilters())
    times = sorted(row.occurred_at for row in found if row.occurred_at)

    def ids(**filters: Any) -> set[tuple[UUID, int]]:
        found = container.audit.events(parse_filters(**filters))
        return {(row.originator_id, row.originator_version) for row in found}

    assert ids(actor="user:alice@example.com") == {(project, 1) for project in alices}
    assert ids(event_type="RulesetPublished") == {(alices[0], 2)}
    assert ids(request_id="r-2") == {(alices[0], 2)}
    assert ids(project=str(alices[1])) == {(alices[1], 1)}
    assert len(ids(since=times[1].isoformat())) == 3
    assert len(ids(until=times[1].isoformat())) == 1
    assert len(ids(limit=2)) == 2
    later = (times[-1] + timedelta(hours=1)).replace(tzinfo=None).isoformat()
    assert ids(since=later) == set()
    with pytest.raises(BadInputError, match="since"):
        parse_filters(since="yesterday-ish")
    with pytest.raises(BadInputError, match="project"):
        parse_filters(project="not-a-uuid")


def test_audit_cli_queries_and_rejects_bad_filters(
    container: Container,
    cli_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project_id = container.app.create_project("p", ALICE)
    project_with_runner(container)
    for key, value in cli_env.items():
        monkeypatch.setenv(key, value)

    with pytest.raises(SystemExit) as done:
        main(["audit", "events", "--project", str(project_id), "--json"])
    assert done.value.code == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["event_type"], row["actor"]) == ("ProjectCreated", "user:alice@example.com")

    with pytest.raises(SystemExit) as done:
        main(["db", "rebuild-projections"])
    assert done.value.code == 0
    assert capsys.readouterr().out.splitlines()[-1] == "1"

    with pytest.raises(SystemExit) as done:
        main(["audit", "events", "--since", "last tuesday"])
    assert done.value.code == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: since: 'last tuesday' is not an ISO 8601 date or time"
    ]


def test_lag_gauge_reaches_zero(container: Container, threads: Threads) -> None:
    for number in range(3):
        container.app.create_project(f"p{number}", ALICE)
    with audit_index(container) as (log, view):
        assert lag(log, view) == 3
    registry = CollectorRegistry()
    gauge = LagGauge(registry)
    gauge("audit_index", 0, 99)  # a stale value: only a poll of the running projector can clear it
    stop = threading.Event()
    threads.start(run_projector, container.projections, stop, 0.05, gauge)
    try:
        for number in range(20):
            container.app.create_project(f"q{number}", ALICE)
        assert wait_for(lambda: lag_value(registry) == 0 and count(container) == 23)
        gauge("audit_index", 0, 99)
        assert wait_for(lambda: lag_value(registry) == 0)
    finally:
        stop.set()
        threads.join()


def test_rebuild_while_a_projector_runs_ends_complete(
    container: Container, threads: Threads, caplog: pytest.LogCaptureFixture
) -> None:
    """Rebuilds while events arrive and the projector writes them: the index ends with
    every event once. Rebuilds go on (at most MAX_REBUILDS) until one overtook a write
    of the projector, which then starts again, and events were appended during two."""
    caplog.set_level(logging.INFO, logger="projections.projector")
    url = container.database_url
    stop, appended = threading.Event(), threading.Event()
    threads.start(run_projector, container.projections, stop, 0.05, LagGauge(CollectorRegistry()))
    threads.start(append_until, container, appended)

    def running() -> None:
        """Fail now, not after every rebuild, if the appender or the index's projector
        (a thread of run_projector's own) stopped."""
        threads.check()
        names = {thread.name for thread in threading.enumerate()}
        assert "projector-audit_index" in names, "the audit index's projector stopped"

    def caught_up() -> bool:
        running()
        return [row[0] for row in index_rows(url)] == log_ids(url)

    overlapped = 0
    try:
        for _ in range(MAX_REBUILDS):
            time.sleep(0.1)
            running()
            before = head(url)
            rebuild(container.projections)
            overlapped += head(url) > before
            if overlapped >= 2 and restarts(caplog):
                break
        appended.set()
        assert wait_for(caught_up)
    finally:
        appended.set()
        stop.set()
        threads.join()
    assert overlapped >= 2, "no events were appended while a rebuild ran"
    assert restarts(caplog), "no rebuild overtook a write of the projector"


MAX_REBUILDS = 30


def head(url: str) -> int:
    with psycopg.connect(url) as conn:
        found = conn.execute("SELECT coalesce(max(notification_id), 0) FROM tieout_events")
        return int(found.fetchone()[0])  # type: ignore[index]


def restarts(caplog: pytest.LogCaptureFixture) -> int:
    """Writes overtaken by a rebuild (logged at INFO; a fault's restart is a WARNING)."""
    return sum(
        record.levelno == logging.INFO and "starting again" in record.getMessage()
        for record in caplog.records
    )


def append_until(container: Container, done: threading.Event) -> None:
    while not done.is_set():
        container.app.create_project("p", ALICE)


def lag_value(registry: CollectorRegistry) -> float | None:
    return registry.get_sample_value("tieout_projection_lag_events", {"projection": "audit_index"})


def count(container: Container) -> int:
    return len(index_rows(container.database_url))


def wait_for(condition: Callable[[], bool], seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_batch_reads_the_states_that_fit_its_budget(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A catch-up batch holds the leading events whose stored states fit BATCH_BYTES, at
    least one, and reads no state beyond them."""
    for number in range(6):
        container.app.create_project(f"b{number}", ALICE)
    with psycopg.connect(container.database_url) as conn:
        sizes = conn.execute(
            "SELECT notification_id, octet_length(state) FROM tieout_events "
            "ORDER BY notification_id"
        ).fetchall()
    with audit_index(container) as (log, _):
        monkeypatch.setattr(projector, "BATCH_BYTES", sum(size for _, size in sizes[:3]))
        assert [item.id for item in projector.next_batch(log, 0)] == [n for n, _ in sizes[:3]]
        after = sizes[2][0]
        assert [item.id for item in projector.next_batch(log, after)] == [n for n, _ in sizes[3:6]]
        monkeypatch.setattr(projector, "BATCH_BYTES", 1)  # one event exceeds it: still one
        assert [item.id for item in projector.next_batch(log, 0)] == [sizes[0][0]]
        assert projector.next_batch(log, sizes[-1][0]) == []


class PreparingView:
    """A view that records which thread prepared and which projected each batch."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.held = 0
        self.calls: list[tuple[str, list[int], str]] = []
        self.fail_at = fail_at
        self.forgotten = 0

    def position(self, application: str) -> int:
        assert application
        return self.held

    def reset(self, application: str) -> None:
        assert application
        self.held = 0

    def prepare(self, events: Sequence[tuple[Any, int]]) -> None:
        self.calls.append(("prepare", [n for _, n in events], threading.current_thread().name))

    def project(self, events: Sequence[tuple[Any, int]], tracking: Tracking) -> int:
        numbers = [n for _, n in events]
        self.calls.append(("project", numbers, threading.current_thread().name))
        if self.fail_at is not None and self.fail_at in numbers:
            raise RuntimeError("the server went away")
        self.held = tracking.notification_id
        return len(events)

    def forget_prepared(self) -> None:
        self.forgotten += 1


def test_a_replay_reads_and_prepares_the_next_batch_while_it_writes(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every batch is prepared on the reader thread before the writer projects it, in
    order, once; what was prepared and not projected is forgotten, also on failure."""
    for number in range(7):
        container.app.create_project(f"r{number}", ALICE)
    monkeypatch.setattr(projector, "BATCH_SIZE", 2)
    with audit_index(container) as (log, _):
        head = log.recorder.max_notification_id()
        view = PreparingView()
        assert projector.replay(log, view) == head
        prepared = [(n, t) for kind, n, t in view.calls if kind == "prepare"]
        projected = [(n, t) for kind, n, t in view.calls if kind == "project"]
        assert [n for n, _ in prepared] == [n for n, _ in projected]
        assert sum(len(n) for n, _ in projected) == head
        assert {t for _, t in prepared} == {"replay-reader_0"}
        assert all(t != "replay-reader_0" for _, t in projected)
        for batch, _ in projected:  # prepared before it was projected
            assert view.calls.index(("prepare", batch, "replay-reader_0")) < next(
                i for i, call in enumerate(view.calls) if call[:2] == ("project", batch)
            )
        assert view.forgotten == 1

        failing = PreparingView(fail_at=5)
        with pytest.raises(RuntimeError, match="went away"):
            projector.replay(log, failing)
        assert failing.forgotten == 1
        assert failing.held == 4
