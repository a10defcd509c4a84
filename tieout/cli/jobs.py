"""`tieout jobs ...`: request, watch, list, cancel and redrive reconciliation jobs."""

from __future__ import annotations

import sys
from uuid import UUID

import click

from engine.domain.job import COMPLETED, DEAD_LETTERED, STATUSES
from engine.ports import QueueEntry
from projections.job_views import entry_view, job_view
from tieout.bootstrap import Container
from tieout.cli.context import cli_meta, container, emit_json, parse_id
from tieout.cli.root import cli
from tieout.workers import run_until_done, wait_until_ended

EXIT_NOT_COMPLETED = 1


@cli.group()
def jobs() -> None:
    """Reconciliation jobs: run, show, list, cancel, dead letters."""


@jobs.command("run")
@click.argument("project")
@click.argument("left_source")
@click.argument("right_source")
@click.option("--ruleset", "version", type=int, required=True, help="Ruleset version.")
@click.option("--idempotency-key", default="", help="A repeated key returns the first job.")
@click.option("--wait", is_flag=True, help="Wait until the job ends, showing progress.")
def run_job(
    project: str,
    left_source: str,
    right_source: str,
    version: int,
    idempotency_key: str,
    wait: bool,
) -> None:
    """Request a job; prints its id (last). On the embedded default, --wait also runs it."""
    project_id = parse_id(project, "project")
    left, right = parse_id(left_source, "left source"), parse_id(right_source, "right source")
    with container() as built:
        job_id = built.app.request_job(
            project_id, left, right, version, cli_meta("jobs.run"), idempotency_key
        )
        status = _wait(built, job_id) if wait else None
    click.echo(job_id)
    if status not in {None, COMPLETED}:
        sys.exit(EXIT_NOT_COMPLETED)


@jobs.command("show")
@click.argument("job")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show_job(job: str, as_json: bool) -> None:
    """A job's status, attempts, progress, counts, hashes and failures."""
    with container() as built:
        view = job_view(built.app, built.queue, parse_id(job, "job"))
    if as_json:
        emit_json(view)
        return
    for key, value in view.items():
        click.echo(f"{key:>22}: {value}")


@jobs.command("list")
@click.option("--project", default=None, help="Only this project's jobs.")
@click.option("--status", "statuses", multiple=True, type=click.Choice(STATUSES))
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_jobs(project: str | None, statuses: tuple[str, ...], limit: int, as_json: bool) -> None:
    """Jobs, newest first."""
    project_id = parse_id(project, "project") if project else None
    with container() as built:
        found = built.queue.entries(statuses, project_id, limit)
    _print_entries(found, as_json)


@jobs.command("dlq")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def dead_letters(limit: int, as_json: bool) -> None:
    """Dead-lettered jobs: attempts exhausted or an error that cannot succeed."""
    with container() as built:
        found = built.queue.entries((DEAD_LETTERED,), None, limit)
    _print_entries(found, as_json)


@jobs.command("cancel")
@click.argument("job")
@click.option("--reason", default="cancelled by a user", show_default=True)
def cancel_job(job: str, reason: str) -> None:
    """Cancel a job that has not completed; a running attempt loses its lease."""
    with container() as built:
        built.app.cancel_job(parse_id(job, "job"), reason, cli_meta("jobs.cancel"))
    click.echo("cancelled")


@jobs.command("redrive")
@click.argument("job")
def redrive_job(job: str) -> None:
    """Requeue a dead-lettered job with a fresh budget of attempts."""
    with container() as built:
        built.app.redrive_job(parse_id(job, "job"), cli_meta("jobs.redrive"))
    click.echo("requeued")


def _wait(built: Container, job_id: UUID) -> str:
    """Wait for the job to end, progress on stderr; on the embedded default, run it here."""
    shown: list[str] = []

    def show(entry: QueueEntry) -> None:
        line = f"{entry.status}: {entry.phase} ({entry.rows_processed:,}/{entry.rows_total:,})"
        if not shown or shown[-1] != line:
            shown.append(line)
            click.echo(line, err=True)

    if built.settings.database_url is None:
        job = run_until_done(built, job_id, show)
    else:
        job = wait_until_ended(built, job_id, show, deadline=None)
    return job.status


def _print_entries(found: list[QueueEntry], as_json: bool) -> None:
    if as_json:
        emit_json([entry_view(entry) for entry in found])
        return
    for entry in found:
        progress = f"{entry.phase} {entry.rows_processed}/{entry.rows_total}"
        click.echo(f"{entry.job_id}  {entry.status:<13} attempts={entry.attempts}  {progress}")
