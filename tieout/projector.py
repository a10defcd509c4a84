"""The projector: keeps the audit index up to date with the event log.

`run_projector` catches the index up in batches, then tails the log with eventsourcing's
`ProjectionRunner` (LISTEN/NOTIFY), updating the lag gauge and logging progress at every
poll. A lost database connection (a restart, a failover, a terminated backend) stops the
runner; the projector builds a new one after a backoff and resumes from the tracked
position, which the index committed together with its rows. Any other error ends it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from eventsourcing.persistence import InfrastructureFactory, InterfaceError, OperationalError
from eventsourcing.projection import ProjectionRunner
from eventsourcing.utils import Environment
from prometheus_client import REGISTRY, Gauge
from prometheus_client.registry import CollectorRegistry

from projections.audit import (
    PROJECTION,
    AuditIndexProjection,
    AuditIndexView,
    ProjectionResetError,
    TieoutLog,
    lag,
    replay,
)
from tieout.database import database_url, eventsourcing_env, migrate_if_allowed
from tieout.settings import Settings

logger = logging.getLogger(__name__)

POOL_SIZE = "2"  # per pool: the log (its LISTEN connection and reads), the view (writes)
RECOVERABLE = (
    OperationalError,  # eventsourcing's wrappers of psycopg's errors
    InterfaceError,
    psycopg.OperationalError,  # from the migrations, which use psycopg directly
    psycopg.InterfaceError,
)
BACKOFF_SECONDS = (0.5, 1.0, 2.0, 5.0, 10.0)
HEALTHY_SECONDS = 60.0  # a runner that lasted this long starts the backoff afresh
BATCH_LAG = 2000  # further behind than this, batches catch up faster than the runner

AuditRunner = ProjectionRunner[TieoutLog, AuditIndexView]
LagReport = Callable[[int, int], None]  # (position, lag)


def projector_env(settings: Settings) -> dict[str, str]:
    """The eventsourcing environment of the projector's two small connection pools."""
    env = eventsourcing_env(database_url(settings), settings)
    env["POSTGRES_POOL_SIZE"] = POOL_SIZE
    env["POSTGRES_MAX_OVERFLOW"] = "2"
    return env


@contextmanager
def audit_index(settings: Settings) -> Iterator[tuple[TieoutLog, AuditIndexView]]:
    """The log and the index, migrated and ready, closed afterwards."""
    env = projector_env(settings)
    log = TieoutLog(env)  # creates tieout_events when missing: the migrations need it
    try:
        migrate_if_allowed(database_url(settings), settings)
        factory = InfrastructureFactory[AuditIndexView].construct(
            Environment(AuditIndexProjection.name, {**os.environ, **env})
        )
        view = factory.tracking_recorder(AuditIndexView)
        try:
            yield log, view
        finally:
            factory.close()
    finally:
        log.close()


@dataclass(frozen=True)
class Rebuilt:
    events: int
    seconds: float


def rebuild_audit_index(settings: Settings) -> Rebuilt:
    """Empty the index and its position in one transaction, then replay the whole log."""
    with audit_index(settings) as (log, view):
        started = time.perf_counter()
        view.reset(log.name)
        events = replay(log, view)
        return Rebuilt(events, time.perf_counter() - started)


def catch_up(settings: Settings, timeout_seconds: float) -> int:
    """Index what the log holds now, for at most about `timeout_seconds`; returns the lag."""
    with audit_index(settings) as (log, view):
        replay(log, view, deadline=time.monotonic() + timeout_seconds)
        return lag(log, view)


class LagGauge:
    """`tieout_projection_lag_events{projection="audit_index"}`, set at every poll."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.gauge = Gauge(
            "tieout_projection_lag_events",
            "Events in the log that a projection has not processed yet.",
            ["projection"],
            registry=registry,
        )

    def __call__(self, position: int, behind: int) -> None:
        del position
        self.gauge.labels(projection=PROJECTION).set(behind)


def run_projector(
    settings: Settings, stop: threading.Event, poll_seconds: float, report: LagReport
) -> None:
    """Project until `stop` is set, starting over after a rebuild or a lost connection."""
    failures = 0
    while not stop.is_set():
        started = time.monotonic()
        try:
            _catch_up(settings, stop, poll_seconds, report)
            if not stop.is_set():
                _follow(projector_env(settings), stop, poll_seconds, report)
        except ProjectionResetError as reset:
            logger.info("%s; starting again", reset)  # a rebuild: no fault, no wait
        except RECOVERABLE as error:
            failures = 0 if time.monotonic() - started > HEALTHY_SECONDS else failures
            delay = BACKOFF_SECONDS[min(failures, len(BACKOFF_SECONDS) - 1)]
            failures += 1
            logger.warning("projector stopped (%s); starting again in %.1fs", error, delay)
            stop.wait(delay)


def _catch_up(settings: Settings, stop: threading.Event, poll: float, report: LagReport) -> None:
    """Batches, far faster than the runner's event at a time, until close to the head.

    Works in slices of `poll` seconds, so that the gauge keeps moving and a signal is
    answered within a slice even when the backlog is millions of events.
    """
    with audit_index(settings) as (log, view):
        started, written, behind = time.perf_counter(), 0, BATCH_LAG
        while not stop.is_set() and behind >= BATCH_LAG:
            written += replay(log, view, deadline=time.monotonic() + poll)
            behind = lag(log, view)
            report(view.position(log.name), behind)
        if written:
            seconds = time.perf_counter() - started
            logger.info("%s caught up %d events in %.1fs", PROJECTION, written, seconds)


def _follow(env: dict[str, str], stop: threading.Event, poll: float, report: LagReport) -> None:
    """Tail the log with the runner until stopped, or until far enough behind to batch."""
    runner: AuditRunner = ProjectionRunner(
        application_class=TieoutLog,
        projection_class=AuditIndexProjection,
        view_class=AuditIndexView,
        env=env,
    )
    try:
        with runner:
            _poll(runner, stop, poll, report)
    finally:
        runner.view.datastore.close()  # the runner closes its application, not its view


def _poll(runner: AuditRunner, stop: threading.Event, poll: float, report: LagReport) -> None:
    progress = _Progress(runner.view.position(runner.app.name))
    logger.info("%s following the log from event %d", PROJECTION, progress.position)
    while not stop.is_set():
        runner.run_forever(timeout=poll)
        if runner.is_interrupted.is_set() and not stop.is_set():
            raise OperationalError("the log subscription ended")
        position = runner.view.position(runner.app.name)
        behind = lag(runner.app, runner.view)
        report(position, behind)
        progress.log(position, behind)
        if behind > BATCH_LAG:
            logger.info("%s is %d events behind: catching up in batches", PROJECTION, behind)
            return


class _Progress:
    """Logs how far the index got since the last poll, and how fast."""

    def __init__(self, position: int) -> None:
        self.position = position
        self.at = time.monotonic()

    def log(self, position: int, behind: int) -> None:
        if position == self.position:
            return
        now = time.monotonic()
        rate = (position - self.position) / max(now - self.at, 1e-6)
        logger.info(
            "%s at event %d, %d behind the log (%.1f events/s)", PROJECTION, position, behind, rate
        )
        self.position, self.at = position, now
