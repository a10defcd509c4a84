"""`tieout demo`: the main job on the embedded default, end to end, narrated."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from typing import Any
from uuid import UUID

import polars as pl
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from demo.datagen import generate_bank_ledger
from demo.evaluation import Accuracy, accuracy
from demo.review import review_demo
from engine.domain.job import Job, JobOutcome
from engine.domain.meta import event_meta
from engine.errors import ConflictError
from engine.matching.schemas import LEFT_ID, MATCHED, RULE, STATUS, SUGGESTED
from engine.ports import QueueEntry
from engine.reviews import Reviews
from tieout import backups
from tieout.bootstrap import Container
from tieout.workers import run_until_done

RULESET = "bank_ledger.yaml"


@dataclass(frozen=True)
class DemoInputs:
    """What the demo registered: the ids a user would reuse."""

    project_id: UUID
    ruleset_version: int
    left_id: UUID
    right_id: UUID
    truth: pl.DataFrame


def demo_ruleset_text() -> str:
    return resources.files("demo.rulesets").joinpath(RULESET).read_text(encoding="utf-8")


@dataclass(frozen=True)
class Reconciled:
    """The demo job as it ended, and the decisions it recorded."""

    job: Job
    outcome: JobOutcome
    matches: pl.DataFrame


def run_demo(container: Container, rows: int, seed: int, console: Console) -> Reconciled:
    """Generate, register, reconcile as a job, and report against the ground truth."""
    console.rule("[bold]Tieout demo: bank statement vs ledger")
    with _progress(console) as progress:
        inputs = _register(container, rows, seed, progress)
        started = time.perf_counter()
        done = _reconcile(container, inputs, progress)
        seconds = time.perf_counter() - started
    _report(console, inputs, done, accuracy(done.matches, inputs.truth), seconds)
    review_demo(Reviews(container.app), inputs.project_id, done.job.id, console)
    _snapshot(container, console)
    return done


def _snapshot(container: Container, console: Console) -> None:
    """End as an operator's day ends: a snapshot of the log, checked as a restore would
    check it, and the hash chain over the whole log verified."""
    manifest = backups.create(container, full=False)
    checked = backups.check(container, manifest.snapshot_id)
    verdict = backups.verify_chain(container)
    console.print(
        f"[bold]Snapshot[/bold] {manifest.snapshot_id} ({manifest.kind}): {manifest.events:,}"
        f" events, {manifest.stored_bytes / 1e6:.1f} MB in {manifest.seconds:.2f}s to"
        f" {container.backup_store.location}; verified with {len(checked.manifests)} snapshot(s)",
        soft_wrap=True,
        highlight=False,
    )
    state = "intact" if verdict.ok else f"TAMPERED at event {verdict.first_bad}"
    console.print(
        f"[bold]Hash chain[/bold] {state}: {verdict.events:,} events rehashed,"
        f" {verdict.seals} signed seals, head {verdict.head.hex()[:16]}",
        soft_wrap=True,
        highlight=False,
    )


def _register(container: Container, rows: int, seed: int, progress: Progress) -> DemoInputs:
    app = container.app
    meta = event_meta(actor="cli:demo", causation="demo")
    step = progress.add_task(f"Generating {rows:,} bank rows and a ledger", total=4)
    pair = generate_bank_ledger(rows, seed=seed)
    left_csv, right_csv = pair.write_csv(container.settings.home / "demo")
    progress.update(step, advance=1, description="Creating the project and its ruleset")
    project_id = app.create_project("Demo: bank statement vs ledger", meta)
    version = app.publish_ruleset(project_id, demo_ruleset_text(), meta)
    progress.update(step, advance=1, description=f"Registering {left_csv.name}")
    left_id = app.register_source_file(project_id, left_csv, meta)
    progress.update(step, advance=1, description=f"Registering {right_csv.name}")
    right_id = app.register_source_file(project_id, right_csv, meta)
    progress.update(step, advance=1, description="Inputs registered")
    return DemoInputs(project_id, version, left_id, right_id, pair.truth)


def _reconcile(container: Container, inputs: DemoInputs, progress: Progress) -> Reconciled:
    """Request a job, run it on an in-process worker, read its decisions back from the log."""
    meta = event_meta(actor="cli:demo", causation="jobs.run")
    job_id = container.app.request_job(
        inputs.project_id, inputs.left_id, inputs.right_id, inputs.ruleset_version, meta
    )
    step = progress.add_task(f"Job {str(job_id)[:8]}: queued", total=None)

    def report(entry: QueueEntry) -> None:
        total = entry.rows_total or None
        phase = entry.phase if entry.phase and entry.phase != entry.status else ""
        label = f"Job {str(job_id)[:8]}: {entry.status} {phase}".rstrip()
        progress.update(step, description=label, completed=entry.rows_processed, total=total)

    job = run_until_done(container, job_id, on_progress=report)
    if job.outcome is None:
        raise ConflictError(f"demo job {job_id} ended {job.status}: {job.last_error}")
    matches, _ = container.app.recorded_decisions(job_id)
    return Reconciled(job=job, outcome=job.outcome, matches=matches)


def _report(
    console: Console, inputs: DemoInputs, done: Reconciled, score: Accuracy, seconds: float
) -> None:
    outcome = done.outcome
    counts: dict[str, Any] = outcome.counts
    console.print(_sides_table(counts, done.matches))
    console.print(_rules_table(counts, done.matches))
    console.print(
        f"Against the ground truth ({score.true_pairs:,} true pairs): "
        f"precision {score.precision:.4f} · recall {score.recall:.4f} · F1 {score.f1:.4f} · "
        f"precision of automatic matches {score.auto_precision:.4f}"
    )
    console.print(
        f"job {done.job.id} · {done.job.status} after {done.job.attempts} attempt(s) in "
        f"{seconds:.1f} s · decisions hash {outcome.decisions_hash[:16]}…"
    )
    console.print(f"project {inputs.project_id} · ruleset v{inputs.ruleset_version}")
    console.print(f"sources {inputs.left_id} (left) · {inputs.right_id} (right)")
    _next_steps(console, done.job.id, inputs.project_id)


def side_counts(counts: dict[str, Any], matches: pl.DataFrame, side: str) -> tuple[int, ...]:
    """(rows, matched automatically, suggested for review, unmatched) of one side, in rows
    of that side: a many-to-one group's rows count once each, so the three add up."""
    ids = matches.filter(pl.col(STATUS) == MATCHED).get_column(f"{side}_id").n_unique()
    suggested = matches.filter(pl.col(STATUS) == SUGGESTED).get_column(f"{side}_id").n_unique()
    return (counts[f"{side}_rows"], ids, suggested, counts[f"unmatched_{side}"])


def _sides_table(counts: dict[str, Any], matches: pl.DataFrame) -> Table:
    table = Table(title="Rows by side (each side adds up)")
    for column in ("side", "rows", "matched automatically", "suggested for review", "unmatched"):
        table.add_column(column, justify="left" if column == "side" else "right")
    for side, label in (("left", "bank statement (left)"), ("right", "ledger (right)")):
        table.add_row(label, *(f"{value:,}" for value in side_counts(counts, matches, side)))
    return table


def _rules_table(counts: dict[str, Any], matches: pl.DataFrame) -> Table:
    """Bank rows decided by each rule: the totals are the left side's row above."""
    per_rule = matches.group_by(RULE, STATUS).agg(pl.col(LEFT_ID).n_unique().alias("rows"))
    found = {(rule, status): rows for rule, status, rows in per_rule.iter_rows()}
    table = Table(title="Bank rows decided by each rule (most precise first)")
    for column in ("rule", "matched automatically", "suggested for review"):
        table.add_column(column, justify="left" if column == "rule" else "right")
    for rule in counts["rules"]:
        auto, review = found.get((rule, MATCHED), 0), found.get((rule, SUGGESTED), 0)
        table.add_row(rule, f"{auto:,}", f"{review:,}")
    return table


def _next_steps(console: Console, job_id: UUID, project_id: UUID) -> None:
    steps = (
        (f"tieout jobs show {job_id}", "the job: counts, hashes, attempts"),
        (f"tieout review queue {job_id}", "the pairs waiting for review"),
        (f"tieout unmatched {job_id} --side left", "bank rows nothing matched"),
        (f"tieout audit events --project {project_id}", "who did what, when"),
        ("tieout status", "where the data is and what is running"),
    )
    console.print("[bold]Next[/bold] (after `source .venv/bin/activate`):")
    for command, meaning in steps:
        console.print(f"  {command}  [dim]# {meaning}[/dim]", soft_wrap=True, highlight=False)


@contextmanager
def _progress(console: Console) -> Iterator[Progress]:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        yield progress
