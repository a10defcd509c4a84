"""`tieout backup create|list|verify|restore`: snapshots of the event log (docs/backups.md)."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import click
from botocore.exceptions import BotoCoreError, ClientError

from engine.errors import BadInputError
from snapshots.backup import manifests
from snapshots.manifest import Manifest
from tieout import backups
from tieout.cli.context import container, emit_json
from tieout.cli.root import cli
from tieout.metrics import serve_metrics
from tieout.settings import load_settings

MB = 1_000_000
EXIT_DIFFERS = 1


@cli.group()
def backup() -> None:
    """Snapshots of the event log in TIEOUT_BACKUP_STORE: take, list, check, restore."""


@contextmanager
def store_errors() -> Iterator[None]:
    """An unreachable or refusing backup store is one line, not a traceback."""
    try:
        yield
    except (BotoCoreError, ClientError, OSError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise BadInputError(f"backup store: {reason}") from None


@backup.command("create")
@click.option("--full", is_flag=True, help="All events, not only those after the last snapshot.")
def create(full: bool) -> None:
    """Take a snapshot (incremental after the first); prints its id last."""
    with container() as built, store_errors():
        manifest = backups.create(built, full=full)
    click.echo(
        f"{manifest.kind} snapshot: events {manifest.after + 1}..{manifest.through}"
        f" ({manifest.events} events, {len(manifest.chunks)} chunks,"
        f" {manifest.stored_bytes / MB:.1f} MB, {len(manifest.blobs)} sources)"
        f" in {manifest.seconds:.2f}s"
    )
    click.echo(manifest.snapshot_id)


@backup.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def list_snapshots(as_json: bool) -> None:
    """Snapshots in the backup store, oldest first."""
    with container() as built, store_errors():
        found = manifests(built.backup_store)
    if as_json:
        emit_json([_summary(manifest) for manifest in found])
        return
    for manifest in found:
        click.echo(
            f"{manifest.snapshot_id}  {manifest.kind:<11}  events {manifest.after + 1}.."
            f"{manifest.through}  {manifest.stored_bytes / MB:.1f} MB"
        )


@backup.command("verify")
@click.argument("snapshot", required=False)
def verify(snapshot: str | None) -> None:
    """Check a snapshot (default: the newest) and its parents as a restore would, then that
    the live log still holds what they sealed; exit 1 when it does not."""
    with container() as built, store_errors():
        fetched = backups.check(built, snapshot)
        target = fetched.target
        click.echo(
            f"snapshot {target.snapshot_id} intact: {len(fetched.manifests)} snapshots, events"
            f" 1..{target.through}, chain seal {target.sealed().hash.hex()} signed by"
            f" {target.sealed().key_id}"
        )
        problem = backups.live_log_problem(built, fetched)
    if problem is not None:
        click.echo(f"LIVE LOG DIFFERS: {problem}")
        sys.exit(EXIT_DIFFERS)
    click.echo("live log holds every sealed event")


@backup.command("restore")
@click.argument("snapshot", required=False)
@click.option("--into", "url", required=True, help="URL of an empty PostgreSQL database.")
def restore(snapshot: str | None, url: str) -> None:
    """Restore a snapshot (default: the newest) into an empty database, checking
    everything before writing a row; prints the time it took (RTO)."""
    with store_errors():
        done = backups.restore(load_settings(), url, snapshot)
    click.echo(
        f"restored {done.events} events up to {done.snapshot.through} from"
        f" {done.snapshot.snapshot_id}: checked in {done.check_seconds:.2f}s, loaded in"
        f" {done.load_seconds:.2f}s, read models rebuilt in {done.rebuild_seconds:.2f}s;"
        f" chain head {done.verdict.head.hex()}"
    )
    click.echo(f"RTO {done.seconds:.2f}s")


def _summary(manifest: Manifest) -> dict[str, object]:
    return {
        "id": manifest.snapshot_id,
        "kind": manifest.kind,
        "parent": manifest.parent,
        "created_at": manifest.created_at,
        "after": manifest.after,
        "through": manifest.through,
        "events": manifest.events,
        "bytes": manifest.stored_bytes,
        "chunks": len(manifest.chunks),
        "encrypted": manifest.encryption_key_id is not None,
    }


@backup.command("prune")
@click.option("--dry-run", is_flag=True, help="Say what would go; delete nothing.")
def prune(dry_run: bool) -> None:
    """Keep the snapshots TIEOUT_BACKUP_RETENTION names (and their parents); delete the rest
    and the sources only they referred to."""
    with container() as built, store_errors():
        pruned = backups.prune(built, dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    for snapshot_id in pruned.deleted:
        click.echo(f"{verb} {snapshot_id}")
    click.echo(
        f"kept {len(pruned.kept)} snapshots; {verb} {len(pruned.deleted)} snapshots and"
        f" {pruned.blobs_deleted} unreferenced sources"
    )


@backup.command("schedule")
def schedule() -> None:
    """Take a snapshot every TIEOUT_BACKUP_INTERVAL_SECONDS and apply the retention, until
    SIGTERM or Ctrl-C; metrics on TIEOUT_METRICS_PORT (default 9102)."""
    with container("backup") as built:
        if built.settings.backup_interval_seconds <= 0:
            raise click.BadParameter("TIEOUT_BACKUP_INTERVAL_SECONDS must be above 0 here")
        serve_metrics(built.settings.metrics_port_for("backup"), "backup schedule")
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        click.echo(
            f"tieout backup schedule: a snapshot every {built.settings.backup_interval_seconds:g}s"
            f" to {built.backup_store.location}; SIGTERM stops it",
            err=True,
        )
        backups.run_schedule(built, stop, backups.BackupMetrics())
