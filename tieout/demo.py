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

from engine.domain.meta import event_meta
from engine.ingest import load_source
from engine.matching import MatchResult, match
from tieout.bootstrap import Container
from tieout.datagen import generate_bank_ledger
from tieout.evaluation import Accuracy, accuracy

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
    return resources.files("tieout.rulesets").joinpath(RULESET).read_text(encoding="utf-8")


def run_demo(container: Container, rows: int, seed: int, console: Console) -> MatchResult:
    """Generate, register, reconcile, and report against the ground truth."""
    console.rule("[bold]Tieout demo: bank statement vs ledger")
    with _progress(console) as progress:
        inputs = _register(container, rows, seed, progress)
        started = time.perf_counter()
        result = _reconcile(container, inputs, progress)
        seconds = time.perf_counter() - started
    _report(console, inputs, result, accuracy(result.matches, inputs.truth), seconds)
    return result


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
    left_id = app.register_source(project_id, left_csv, meta)
    progress.update(step, advance=1, description=f"Registering {right_csv.name}")
    right_id = app.register_source(project_id, right_csv, meta)
    progress.update(step, advance=1, description="Inputs registered")
    return DemoInputs(project_id, version, left_id, right_id, pair.truth)


def _reconcile(container: Container, inputs: DemoInputs, progress: Progress) -> MatchResult:
    app = container.app
    left = app.get_source(inputs.project_id, inputs.left_id)
    right = app.get_source(inputs.project_id, inputs.right_id)
    ruleset = app.get_ruleset(inputs.project_id, inputs.ruleset_version)
    step = progress.add_task("Matching", total=None)

    def report(phase: str, done: int, total: int) -> None:
        progress.update(step, description=f"Matching: {phase}", completed=done, total=total)

    frames = [load_source(container.object_store, s.location) for s in (left, right)]
    return match(frames[0], frames[1], ruleset, progress=report)


def _report(
    console: Console, inputs: DemoInputs, result: MatchResult, score: Accuracy, seconds: float
) -> None:
    summary: dict[str, Any] = result.summary()
    table = Table(title="Decisions by rule")
    for column in ("rule", "matched", "suggested"):
        table.add_column(column, justify="left" if column == "rule" else "right")
    for rule, counts in summary["rules"].items():
        table.add_row(rule, f"{counts['matched']:,}", f"{counts['suggested']:,}")
    console.print(table)
    console.print(
        f"left rows {summary['left_rows']:,} · right rows {summary['right_rows']:,} · "
        f"matched {summary['matched']:,} · suggested {summary['suggested']:,} · "
        f"unmatched left {summary['unmatched_left']:,} · "
        f"unmatched right {summary['unmatched_right']:,} · {seconds:.1f} s"
    )
    console.print(
        f"Against the ground truth ({score.true_pairs:,} true pairs): "
        f"precision {score.precision:.4f} · recall {score.recall:.4f} · F1 {score.f1:.4f} · "
        f"precision of automatic matches {score.auto_precision:.4f}"
    )
    console.print(f"project {inputs.project_id} · ruleset v{inputs.ruleset_version}")
    console.print(f"sources {inputs.left_id} (left) · {inputs.right_id} (right)")


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
