"""`tieout jobs ...`: request, watch, list, cancel and redrive reconciliation jobs."""

from __future__ import annotations

import sys
import time
from typing import Any
from uuid import UUID

import click

from engine.domain.job import COMPLETED, DEAD_LETTERED, PERMANENT_ERROR, STATUSES, Job
from engine.errors import BadInputError
from engine.ports import QueueEntry
from projections.job_views import entry_view, job_view
from tieout.bootstrap import Container
from tieout.cli.context import cli_meta, container, emit_json, parse_id
from tieout.cli.display import print_fields, print_table
from tieout.cli.root import cli
from tieout.workers import run_until_done, wait_until_ended

EXIT_NOT_COMPLETED = 1
NO_WORKER_SECONDS = 5.0


@cli.group()
def jobs() -> None:
    """Reconciliation jobs: run, show, list, cancel, dead letters."""


@jobs.command("run")
@click.argument("project")
@click.argument("left_source")
@click.argument("right_source")
@click.option("--ruleset", "version", type=int, required=True, help="Ruleset version.")
@click.option(
    "--idempotency-key",
    default="",
    help="A repeated key returns the first job; with other sources or ruleset it is an error.",
)
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
        if not wait:
            _say_who_runs_it(built, job_id)
            click.echo(job_id)
            return
        click.echo(f"job {job_id} requested", err=True)
        job = _wait(built, job_id)
    click.echo(job_id)
    _exit_unless_completed(job)


@jobs.command("show")
@click.argument("job")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show_job(job: str, as_json: bool) -> None:
    """A job's status, attempts, progress, counts, hashes and failures."""
    job_id = parse_id(job, "job")
    with container() as built:
        view = job_view(built.app, built.queue, job_id)
        found = built.app.get_job(job_id)
    if as_json:
        emit_json(view)
        return
    print_fields(_fields(view))
    if found.outcome is not None:
        click.echo()
        _print_counts(found.outcome.counts)
    if view["failures_history"]:
        click.echo()
        rows = [(f["attempt"], f["at"], f["error"]) for f in view["failures_history"]]
        print_table(("attempt", "failed at", "error"), rows, empty="")


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
    _print_entries(found, as_json, empty="no jobs")


@jobs.command("dlq")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def dead_letters(limit: int, as_json: bool) -> None:
    """Dead-lettered jobs: attempts exhausted or an error that cannot succeed."""
    with container() as built:
        found = built.queue.entries((DEAD_LETTERED,), None, limit)
    _print_entries(found, as_json, empty="no dead-lettered jobs")


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


def _say_who_runs_it(built: Container, job_id: UUID) -> None:
    """Without --wait the job only waits in the queue: say what will run it."""
    entry = built.queue.entry(job_id)
    if built.settings.database_url is None and entry is not None and entry.status == "requested":
        click.echo(
            f"job {job_id} is queued; it runs when `tieout worker` or `tieout serve` runs "
            "(or request it with --wait to run it now)",
            err=True,
        )


def _wait(built: Container, job_id: UUID) -> Job:
    """Wait for the job to end, progress on stderr; on the embedded default, run it here.

    Ctrl-C stops the waiting (exit 130) and says what becomes of the job.
    """
    embedded = built.settings.database_url is None
    try:
        if embedded:
            show = ProgressWatch(job_id, warn_after=None).show
            return run_until_done(built, job_id, show, project_alongside=True)
        watch = ProgressWatch(job_id, warn_after=time.monotonic() + NO_WORKER_SECONDS)
        return wait_until_ended(built, job_id, watch.show, deadline=None)
    except KeyboardInterrupt:
        fate = (
            "it is requeued when its lease expires, and `tieout worker` runs it then"
            if embedded
            else "it stays queued for the workers"
        )
        click.echo(
            f"stopped waiting for job {job_id}: {fate} (`tieout jobs show {job_id}`)", err=True
        )
        sys.exit(130)


class ProgressWatch:
    """Shows each new progress line once; says so when no worker claims the job in time."""

    def __init__(self, job_id: UUID, warn_after: float | None) -> None:
        self.job_id = job_id
        self.warn_after = warn_after
        self.last = ""

    def show(self, entry: QueueEntry) -> None:
        line = progress_line(entry)
        if line != self.last:
            self.last = line
            click.echo(line, err=True)
        if self.warn_after is not None and time.monotonic() > self.warn_after:
            self.warn_after = None
            if entry.status == "requested":
                click.echo(
                    f"no worker has claimed job {self.job_id} after {NO_WORKER_SECONDS:g}s: "
                    "start one with `tieout worker` (still waiting; Ctrl-C stops waiting, "
                    "the job stays queued)",
                    err=True,
                )


def progress_line(entry: QueueEntry) -> str:
    """`requested: waiting for a worker`, `running: matching: ...`, `completed`."""
    if entry.status == "requested":
        return "requested: waiting for a worker"
    if entry.status != "running" or not entry.phase or entry.phase == entry.status:
        return entry.status
    line = f"running: {entry.phase}"
    if entry.phase.startswith("recording") and entry.rows_total:
        line += f" ({entry.rows_processed:,} of {entry.rows_total:,} rows)"
    return line


def _exit_unless_completed(job: Job) -> None:
    """Bad input ends the command as bad input does everywhere: exit 2, one line."""
    if job.status == COMPLETED:
        return
    if job.status == DEAD_LETTERED and job.dead_letter_reason == PERMANENT_ERROR:
        reason = job.last_error.removeprefix(f"{BadInputError.__name__}: ")
        raise BadInputError(f"job {job.id} failed: {reason}")
    reason = f": {job.last_error}" if job.last_error else ""
    click.echo(f"error: job {job.id} ended {job.status}{reason}", err=True)
    sys.exit(EXIT_NOT_COMPLETED)


def _fields(view: dict[str, Any]) -> list[tuple[str, Any]]:
    running = view["status"] == "running"
    fields = [
        ("job", view["id"]),
        ("project", view["project_id"]),
        ("status", view["status"]),
        ("attempts", view["attempts"]),
        ("failures", view["failures"]),
        ("left source", view["left_source_id"]),
        ("right source", view["right_source_id"]),
        ("ruleset", f"v{view['ruleset_version']}"),
        ("idempotency key", view["idempotency_key"]),
        ("created at", view["created_at"]),
        ("worker", view["worker"] if running else None),
        ("phase", view["phase"] if running else None),
        ("last error", view["last_error"]),
        ("decisions hash", view["decisions_hash"]),
        ("inputs hash", view["inputs_hash"]),
    ]
    return [(name, value) for name, value in fields if value not in {None, ""}]


def _print_counts(counts: dict[str, Any]) -> None:
    """Each side's rows add up: in a decision (matched or suggested) plus unmatched."""
    sides = [
        (side, counts[f"{side}_rows"], counts[f"matched_{side}"], counts[f"unmatched_{side}"])
        for side in ("left", "right")
    ]
    print_table(("side", "rows", "in a decision", "unmatched"), sides, empty="")
    click.echo()
    rules = [(rule, c["matched"], c["suggested"]) for rule, c in counts["rules"].items()]
    rules.append(("total", counts["matched"], counts["suggested"]))
    print_table(("rule", "matched", "suggested (for review)"), rules, empty="")


def _print_entries(found: list[QueueEntry], as_json: bool, empty: str) -> None:
    if as_json:
        emit_json([entry_view(entry) for entry in found])
        return
    rows = [
        (
            entry.job_id,
            entry.status,
            entry.attempts,
            entry.phase if entry.status == "running" else None,
            entry.created_at.isoformat(timespec="seconds"),
            entry.last_error if entry.status != COMPLETED else None,
        )
        for entry in found
    ]
    headers = ("job", "status", "attempts", "running phase", "created at", "last error")
    print_table(headers, rows, empty=empty)
