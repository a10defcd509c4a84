"""Backups end to end, over the container: take a snapshot, check one, restore one.

The snapshot format and its checks live in `snapshots/`; this module wires them to the
log, the chain projection, the stores and the keys that `bootstrap` built.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import psycopg
from eventsourcing.persistence import Tracking
from prometheus_client import REGISTRY, Counter, Gauge
from prometheus_client.registry import CollectorRegistry
from psycopg.conninfo import conninfo_to_dict

from engine.commitment import Seal
from engine.domain.queue import QueueRow
from engine.errors import BadInputError
from projections.chain import ChainView, Verdict
from projections.event_log import JOB_REQUESTED
from projections.names import Lock
from projections.projector import rebuild
from snapshots.backup import Keys, Stores, manifests, take
from snapshots.checks import Fetched, fetch
from snapshots.errors import SnapshotError
from snapshots.manifest import Manifest
from snapshots.retention import Pruned, Retention, to_keep
from snapshots.retention import prune as prune_store
from tieout.bootstrap import Container, bootstrap
from tieout.keys import backup_key
from tieout.settings import Settings

logger = logging.getLogger(__name__)


def schema_version() -> str:
    """The newest migration this Tieout applies: what a snapshot's rows were written under."""
    scripts = resources.files("projections.migrations").iterdir()
    return max(entry.name.removesuffix(".sql") for entry in scripts if entry.name.endswith(".sql"))


def keys_of(built: Container) -> Keys:
    return Keys(built.signer, backup_key(built.settings))


def head_seal(built: Container) -> Seal:
    """Chain the log up to its head and seal it there (signed)."""
    with built.projections.opened(built.projections.named("chain")) as (log, view):
        chain = _chain_view(view)
        chain.extend(Tracking(log.name, built.event_log.head()))
        return chain.seal_head(built.signer)


def verify_chain(built: Container, start: int = 1, end: int | None = None) -> Verdict:
    """Chain what is new, then recompute events `start..end` against links and seals."""
    with built.projections.opened(built.projections.named("chain")) as (log, view):
        chain = _chain_view(view)
        chain.extend(Tracking(log.name, built.event_log.head()))
        return chain.verify(built.signer.verifier, start, end)


def create(built: Container, *, full: bool) -> Manifest:
    """A snapshot now (one process at a time: the schedule may be taking one)."""
    with built.event_log.exclusive(Lock.BACKUP) as held:
        if not held:
            raise BadInputError("another process is taking or pruning snapshots; try again")
        return _take(built, full=full)


def _take(built: Container, *, full: bool) -> Manifest:
    _refuse_same_place(built)
    stores = Stores(built.object_store, built.backup_store)
    return take(
        built.event_log,
        head_seal(built),
        stores,
        keys_of(built),
        schema_version(),
        full=full,
        interval_seals=lambda after: _chain_seals(built, after),
    )


def _chain_seals(built: Container, after: int) -> list[Seal]:
    """The chain's seals after event `after`, for a snapshot's manifest."""
    with built.projections.opened(built.projections.named("chain")) as (_, view):
        return _chain_view(view).seals(after + 1)


def check(built: Container, snapshot_id: str | None) -> Fetched:
    """Everything `restore` checks, without a database to restore into."""
    with tempfile.TemporaryDirectory(prefix="tieout-verify-") as scratch:
        return fetch(built.backup_store, snapshot_id, keys_of(built), Path(scratch))


def live_log_problem(built: Container, fetched: Fetched) -> str | None:
    """Whether the live log still holds what each checked snapshot sealed: the chain has
    the sealed link at each seal's position. Finds what the chain alone cannot, such as the
    newest events cut together with their links."""
    verdict = verify_chain(built)
    if not verdict.ok:
        return f"the live log fails its own chain at event {verdict.first_bad}: {verdict.reason}"
    with built.projections.opened(built.projections.named("chain")) as (_, view):
        chain = _chain_view(view)
        for manifest in fetched.manifests:
            seal = manifest.sealed()
            if seal.ordinal and chain.link_at(seal.notification_id) != (seal.ordinal, seal.hash):
                return (
                    f"the live log no longer holds event {seal.notification_id} as snapshot"
                    f" {manifest.snapshot_id} sealed it (events cut or changed)"
                )
    return None


@dataclass(frozen=True)
class Restored:
    snapshot: Manifest
    events: int
    check_seconds: float
    load_seconds: float
    rebuild_seconds: float
    verdict: Verdict

    @property
    def seconds(self) -> float:
        return self.check_seconds + self.load_seconds + self.rebuild_seconds


def restore(settings: Settings, url: str, snapshot_id: str | None) -> Restored:
    """Into the empty database at `url`: check everything, then load, rebuild and verify."""
    started = time.perf_counter()
    try:
        conninfo_to_dict(url)
    except psycopg.ProgrammingError as bad:
        raise BadInputError(f"--into: not a PostgreSQL URL ({str(bad).strip()})") from None
    probe = bootstrap(settings.model_copy(update={"database_url": url, "migrate": False}))
    try:
        if (table := probe.event_log.nonempty_table()) is not None:
            raise BadInputError(f"{_safe(url)} is not empty ({table} holds rows): not restoring")
        keys = keys_of(probe)
        with tempfile.TemporaryDirectory(prefix="tieout-restore-") as scratch:
            fetched = fetch(probe.backup_store, snapshot_id, keys, Path(scratch))
            _refuse_newer_schema(fetched.target)
            checked = time.perf_counter()
            verdict, events, loaded, rebuilt = _load(settings, url, fetched)
    finally:
        probe.close()
    return Restored(
        fetched.target, events, checked - started, loaded - checked, rebuilt - loaded, verdict
    )


def _load(settings: Settings, url: str, fetched: Fetched) -> tuple[Verdict, int, float, float]:
    built = bootstrap(settings.model_copy(update={"database_url": url}), "restore")
    try:
        events = built.event_log.load(fetched.rows())
        for key, path in fetched.blobs.items():
            if not built.object_store.exists(key):
                with path.open("rb") as stream:
                    built.object_store.put_stream(key, stream)
        for job_id in built.event_log.streams_of(JOB_REQUESTED):
            built.app.fenced.insert_fenced([], row=QueueRow.of(built.app.get_job(job_id)))
        with built.projections.opened(built.projections.named("chain")) as (_, view):
            _chain_view(view).keep(fetched.seals)
        loaded = time.perf_counter()
        rebuild(built.projections)
        with built.projections.opened(built.projections.named("chain")) as (_, view):
            verdict = _chain_view(view).verify(built.signer.verifier)
        if not verdict.ok:
            raise SnapshotError(f"restored log fails its chain at {verdict.first_bad}")
        return verdict, events, loaded, time.perf_counter()
    finally:
        built.close()


def _refuse_newer_schema(manifest: Manifest) -> None:
    if manifest.schema_version > schema_version():
        raise SnapshotError(
            f"snapshot {manifest.snapshot_id} needs schema {manifest.schema_version}; this"
            f" Tieout knows up to {schema_version()}: upgrade first"
        )


def _refuse_same_place(built: Container) -> None:
    """A backup beside the data it protects is lost with it."""
    backups = built.backup_store.location
    if backups == built.object_store.location or backups.startswith(
        (built.settings.home / "pgdata").resolve().as_uri()
    ):
        raise BadInputError(
            f"TIEOUT_BACKUP_STORE {backups} is where the database or its sources live"
        )


def _chain_view(view: object) -> ChainView:
    if not isinstance(view, ChainView):
        raise TypeError(f"the chain projection's view is a {type(view).__name__}")
    return view


def _safe(url: str) -> str:
    """The URL without its password, for messages."""

    parts = conninfo_to_dict(url)
    return f"database {parts.get('dbname', '?')} on {parts.get('host', 'localhost')}"


def prune(built: Container, *, dry_run: bool = False) -> Pruned:
    """Apply TIEOUT_BACKUP_RETENTION to the backup store (one process at a time)."""
    policy = Retention.parse(built.settings.backup_retention)
    with built.event_log.exclusive(Lock.BACKUP) as held:
        if not held:
            raise BadInputError("another process is taking or pruning snapshots; try again")
        keep = to_keep(manifests(built.backup_store), policy)
        return prune_store(built.backup_store, keep, dry_run=dry_run)


class BackupMetrics:
    """What the schedule exports: last success, duration, size, failures, snapshots kept."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.last_success = Gauge(
            "tieout_backup_last_success_timestamp_seconds",
            "When the last snapshot was taken (Unix time; 0: none by this process yet).",
            registry=registry,
        )
        self.duration = Gauge(
            "tieout_backup_last_duration_seconds",
            "How long the last snapshot took.",
            registry=registry,
        )
        self.bytes = Gauge(
            "tieout_backup_last_bytes", "Bytes stored by the last snapshot.", registry=registry
        )
        self.failures = Counter(
            "tieout_backup_failures", "Snapshot rounds that failed.", registry=registry
        )
        self.kept = Gauge(
            "tieout_backup_snapshots", "Snapshots in the backup store.", registry=registry
        )


def scheduled_round(built: Container, metrics: BackupMetrics) -> Manifest | None:
    """One round of the schedule: a snapshot (full when the newest full one is from an
    earlier UTC day, so each day's chain can be pruned as a whole), then retention. None
    when another process holds the backup lock."""
    policy = Retention.parse(built.settings.backup_retention)
    with built.event_log.exclusive(Lock.BACKUP) as held:
        if not held:
            return None
        listed = manifests(built.backup_store, cached=True)
        fulls = [found for found in listed if found.kind == "full"]
        today = datetime.now(UTC).date()
        manifest = _take(built, full=not fulls or fulls[-1].created.date() < today)
        kept = to_keep(manifests(built.backup_store, cached=True), policy)
        pruned = prune_store(built.backup_store, kept)
    metrics.last_success.set(time.time())
    metrics.duration.set(manifest.seconds)
    metrics.bytes.set(manifest.stored_bytes)
    metrics.kept.set(len(pruned.kept))
    return manifest


def run_schedule(built: Container, stop: threading.Event, metrics: BackupMetrics) -> None:
    """Take a snapshot every TIEOUT_BACKUP_INTERVAL_SECONDS until `stop` is set. A failed
    round is logged and counted (an alert fires on it) and the next one tries again."""
    interval = built.settings.backup_interval_seconds
    while not stop.is_set():
        started = time.monotonic()
        try:
            manifest = scheduled_round(built, metrics)
        except Exception:
            metrics.failures.inc()
            logger.exception("backup round failed")
        else:
            if manifest is not None:
                logger.info(
                    "snapshot %s: %d events in %.2fs",
                    manifest.snapshot_id,
                    manifest.events,
                    manifest.seconds,
                )
        stop.wait(max(interval - (time.monotonic() - started), 0.0))


def start_backup_schedule(built: Container, stop: threading.Event) -> threading.Thread:
    """The schedule on a thread of its own (`tieout serve` on the embedded default)."""
    thread = threading.Thread(
        target=run_schedule,
        args=(built, stop, BackupMetrics()),
        name="backup-schedule",
        daemon=True,
    )
    thread.start()
    return thread
