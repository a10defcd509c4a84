"""The projector: keeps every registered read model up to date with the event log.

Each projection catches up in batches, then tails the log with eventsourcing's
`ProjectionRunner` (LISTEN/NOTIFY), updating the lag gauge and logging progress at every
poll. A lost database connection (a restart, a failover, a terminated backend) stops the
runner; the projector builds a new one after a backoff and resumes from the tracked
position, which the view committed together with its rows. Any other error ends it.
The logs, views and runners come from the container (`Projections`), never from here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, cast
from uuid import UUID

import psycopg
from eventsourcing.application import Application
from eventsourcing.persistence import (
    InterfaceError,
    InternalError,
    Notification,
    OperationalError,
    Tracking,
)
from eventsourcing.postgres import PostgresApplicationRecorder
from prometheus_client import REGISTRY, Gauge
from prometheus_client.registry import CollectorRegistry
from psycopg import sql

from engine.threads import join_all
from projections.registry import CatchUpView, Projections, ProjectionSpec, Runner
from projections.tracking import ProjectionResetError

logger = logging.getLogger(__name__)

RECOVERABLE = (
    OperationalError,  # eventsourcing's wrappers of psycopg's errors
    InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    # "tuple concurrently updated": the projections' threads creating their tables at once
    InternalError,
    psycopg.InternalError,
)
BACKOFF_SECONDS = (0.5, 1.0, 2.0, 5.0, 10.0)
HEALTHY_SECONDS = 60.0  # a runner that lasted this long starts the backoff afresh
# Further behind than this, batches catch up faster than the runner's event per
# transaction. Low, because one decision batch event carries thousands of rows: a job's
# recording is hundreds of such events in a few seconds, and staging one per transaction
# costs about three times what it costs in a batch. A trickle of small events stays
# under it and keeps the runner's latency.
BATCH_LAG = 10
BATCH_SIZE = 1000
BATCH_BYTES = 4 << 20  # a transaction's share of stored events: bounds memory and redo work

LagReport = Callable[[str, int, int], None]  # (projection, position, lag)
Log = Application[UUID]


def replay(
    log: Log,
    view: CatchUpView,
    deadline: float | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Project every event after the view's position, in batches; returns the events read.

    With a `deadline` (a `time.monotonic()` value), stop after the batch that passes it.
    `on_batch` is told the view's new position after each batch.

    A reader thread reads the next batch (and, for a view that can, decodes it:
    `prepare`) while this one writes the current one, so a catch-up's reading and
    decoding overlap the server's work instead of waiting for it.
    """
    prepare: Callable[[Sequence[tuple[Any, int]]], None] | None = getattr(view, "prepare", None)
    _recover(log, view)

    def read(after: int) -> tuple[list[tuple[Any, int]], int]:
        found = next_batch(log, after)
        events = [(log.mapper.to_domain_event(item), item.id) for item in found]
        if events and prepare is not None:
            prepare(events)
        return events, found[-1].id if found else after

    done = 0
    if deadline is not None and time.monotonic() >= deadline:
        return done
    with ThreadPoolExecutor(1, thread_name_prefix="replay-reader") as reader:
        try:
            pending = reader.submit(read, view.position(log.name))
            while True:
                events, last = pending.result()
                if not events:
                    return done
                passed = deadline is not None and time.monotonic() >= deadline
                if not passed:
                    pending = reader.submit(read, last)
                view.project(events, Tracking(log.name, last))
                done += len(events)
                if on_batch is not None:
                    on_batch(last)
                if passed:
                    return done
        finally:
            forget = getattr(view, "forget_prepared", None)
            if forget is not None:
                reader.shutdown(wait=True)
                forget()


def _recover(log: Log, view: CatchUpView) -> None:
    """Let a view whose tables a crash of the server can empty repair them first."""
    recover: Callable[[str], bool] | None = getattr(view, "recover_lost_rows", None)
    if recover is not None:
        recover(log.name)


def next_batch(log: Log, position: int) -> Sequence[Notification]:
    """The notifications after `position` that fit in BATCH_BYTES of stored state (at
    least one), with no state read past them.

    A batch of decisions is one event of hundreds of kilobytes; a thousand of them in one
    transaction would hold gigabytes and make a crash redo all of it. The sizes come
    first, from the row headers: reading a thousand states to keep the first twenty-eight
    made most of a catch-up's reads.
    """
    recorder = cast("PostgresApplicationRecorder", log.recorder)  # projections are PostgreSQL's
    datastore = recorder.datastore
    table = sql.Identifier(datastore.schema, recorder.events_table_name)
    with datastore.get_connection() as conn:
        sizes = conn.execute(
            sql.SQL(
                "SELECT notification_id, octet_length(state) AS size FROM {table} "
                "WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
            ).format(table=table),
            (position, BATCH_SIZE),
        ).fetchall()
    if not sizes:
        return []
    count = fitting([row["size"] for row in sizes], BATCH_BYTES)
    found: Sequence[Notification] = recorder.select_notifications(
        start=position,
        limit=count,
        stop=sizes[count - 1]["notification_id"],
        inclusive_of_start=False,
    )
    return found


def fitting(sizes: Sequence[int], budget: int) -> int:
    """How many leading `sizes` fit in `budget` (at least one)."""
    total = 0
    for count, size in enumerate(sizes):
        total += size
        if total > budget and count:
            return count
    return len(sizes)


def lag(log: Log, view: CatchUpView) -> int:
    """Events in the log that the view does not hold yet."""
    head = log.recorder.max_notification_id() or 0
    return max(head - view.position(log.name), 0)


@dataclass(frozen=True)
class Rebuilt:
    projection: str
    events: int
    seconds: float


def rebuild(
    projections: Projections, on_progress: Callable[[str, int, int], None] | None = None
) -> list[Rebuilt]:
    """Empty each view and its position in one transaction, then replay the whole log.

    `on_progress(projection, position, head)` is called after each batch. Projectors
    running meanwhile notice (`ProjectionResetError`) and start again from the new position.
    """
    done = []
    for spec in projections.specs:
        with projections.opened(spec) as (log, view):
            started = time.perf_counter()
            head = log.recorder.max_notification_id() or 0
            view.reset(log.name)

            def report(position: int, name: str = spec.name, head: int = head) -> None:
                if on_progress is not None:
                    on_progress(name, position, head)

            events = replay(log, view, on_batch=report)
            done.append(Rebuilt(spec.name, events, time.perf_counter() - started))
    return done


def catch_up(projections: Projections, timeout_seconds: float) -> int:
    """Project what the log holds now, for at most about `timeout_seconds` in all; returns
    the largest lag left.

    The projections catch up side by side, a thread each, as the projector runs them:
    each has its own connections, and their time is mostly the database's and polars',
    which release the GIL.
    """
    deadline = time.monotonic() + timeout_seconds

    def one(spec: ProjectionSpec) -> int:
        with projections.opened(spec) as (log, view):
            replay(log, view, deadline=deadline)
            return lag(log, view)

    with ThreadPoolExecutor(len(projections.specs), thread_name_prefix="catch-up") as pool:
        return max(pool.map(one, projections.specs), default=0)


class LagGauge:
    """`tieout_projection_lag_events{projection=...}`, set at every poll."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.gauge = Gauge(
            "tieout_projection_lag_events",
            "Events in the log that a projection has not processed yet.",
            ["projection"],
            registry=registry,
        )

    def __call__(self, projection: str, position: int, behind: int) -> None:
        del position
        self.gauge.labels(projection=projection).set(behind)


def run_projector(
    projections: Projections, stop: threading.Event, poll_seconds: float, report: LagReport
) -> None:
    """Keep every registered projection up to date until `stop` is set (a thread each)."""
    threads = [
        threading.Thread(
            target=run_projection,
            args=(projections, spec, stop, poll_seconds, report),
            name=f"projector-{spec.name}",
            daemon=True,
        )
        for spec in projections.specs
    ]
    for thread in threads:
        thread.start()
    join_all(threads)


def run_projection(
    projections: Projections,
    spec: ProjectionSpec,
    stop: threading.Event,
    poll_seconds: float,
    report: LagReport,
) -> None:
    """Project one view until `stop` is set, starting over after a rebuild or a lost
    connection."""
    failures = 0
    while not stop.is_set():
        started = time.monotonic()
        try:
            _catch_up(projections, spec, stop, poll_seconds, report)
            if not stop.is_set():
                _follow(projections, spec, stop, poll_seconds, report)
        except ProjectionResetError as reset:
            logger.info("%s; starting again", reset)  # a rebuild: no fault, no wait
        except RECOVERABLE as error:
            failures = 0 if time.monotonic() - started > HEALTHY_SECONDS else failures
            delay = BACKOFF_SECONDS[min(failures, len(BACKOFF_SECONDS) - 1)]
            failures += 1
            logger.warning("projector stopped (%s); starting again in %.1fs", error, delay)
            stop.wait(delay)


def _catch_up(
    projections: Projections,
    spec: ProjectionSpec,
    stop: threading.Event,
    poll: float,
    report: LagReport,
) -> None:
    """Batches, far faster than the runner's event at a time, until close to the head.

    Works in slices of `poll` seconds, so that the gauge keeps moving and a signal is
    answered within a slice even when the backlog is millions of events.
    """
    with projections.opened(spec) as (log, view):
        started, written, behind = time.perf_counter(), 0, BATCH_LAG
        while not stop.is_set() and behind >= BATCH_LAG:
            written += replay(log, view, deadline=time.monotonic() + poll)
            behind = lag(log, view)
            report(spec.name, view.position(log.name), behind)
        if written:
            seconds = time.perf_counter() - started
            logger.info("%s caught up %d events in %.1fs", spec.name, written, seconds)


def _follow(
    projections: Projections,
    spec: ProjectionSpec,
    stop: threading.Event,
    poll: float,
    report: LagReport,
) -> None:
    """Tail the log with the runner until stopped, or until far enough behind to batch."""
    runner = projections.runner(spec)
    try:
        with runner:
            _poll(spec.name, runner, stop, poll, report)
    finally:
        runner.view.datastore.close()  # the runner closes its application, not its view


def _poll(name: str, runner: Runner, stop: threading.Event, poll: float, report: LagReport) -> None:
    view: Any = runner.view
    progress = _Progress(name, view.position(runner.app.name))
    logger.info("%s following the log from event %d", name, progress.position)
    while not stop.is_set():
        runner.run_forever(timeout=poll)
        if runner.is_interrupted.is_set() and not stop.is_set():
            raise OperationalError("the log subscription ended")
        position = view.position(runner.app.name)
        behind = lag(runner.app, view)
        report(name, position, behind)
        progress.log(position, behind)
        if behind > BATCH_LAG:
            logger.info("%s is %d events behind: catching up in batches", name, behind)
            return


class _Progress:
    """Logs how far the view got since the last poll, and how fast."""

    def __init__(self, name: str, position: int) -> None:
        self.name = name
        self.position = position
        self.at = time.monotonic()

    def log(self, position: int, behind: int) -> None:
        if position == self.position:
            return
        now = time.monotonic()
        rate = (position - self.position) / max(now - self.at, 1e-6)
        logger.info(
            "%s at event %d, %d behind the log (%.1f events/s)", self.name, position, behind, rate
        )
        self.position, self.at = position, now
