"""`tieout results|unmatched|stats|export|replay|diff`: the analyst's view of a job.

The first four read the read models. On the embedded default they first catch the read
models up; against a server they read what the projector has written and say how far
behind it is. `replay` and `diff` answer from the log and the stored inputs.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click
import polars as pl
import pyarrow.parquet as pq
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from engine.analysis import job_as_of, rerun, ruleset_diff
from engine.errors import BadInputError
from engine.matching.ruleset import parse_ruleset
from projections.results_query import (
    AGE_BUCKETS,
    DEFAULT_LIMIT,
    MAX_LIMIT,
    SIDES,
    DecisionFilters,
    Page,
    UnmatchedFilters,
)
from tieout.cli.context import container, emit_json, parse_id
from tieout.cli.paging import cursor_option, fresh, json_option, limit_option
from tieout.cli.root import cli

EXIT_DIFFERENT = 1
DECISION_COLUMNS = ("group_id", "left_id", "right_id", "rule", "confidence", "status")
UNMATCHED_COLUMNS = ("side", "id", "reason", "amount", "date", "age_days")


@cli.command("results")
@click.argument("job")
@click.option("--status", type=click.Choice(["matched", "suggested"]), default=None)
@click.option("--rule", default=None, help="Only this rule's decisions.")
@click.option("--review-status", default=None, help="Only decisions in this review status.")
@click.option("--min-confidence", type=click.FloatRange(0, 1), default=None)
@click.option("--max-confidence", type=click.FloatRange(0, 1), default=None)
@limit_option
@cursor_option
@json_option
def results(
    job: str,
    status: str | None,
    rule: str | None,
    review_status: str | None,
    min_confidence: float | None,
    max_confidence: float | None,
    limit: int,
    cursor: str | None,
    as_json: bool,
) -> None:
    """A job's decisions, highest confidence first, a page at a time."""
    job_id = parse_id(job, "job")
    filters = DecisionFilters(status, rule, review_status, min_confidence, max_confidence)
    with fresh() as built:
        page = built.results.decisions(job_id, filters, limit, cursor)
    show_page(page, (*DECISION_COLUMNS, "review_status"), as_json)


@cli.command("unmatched")
@click.argument("job")
@click.option("--side", type=click.Choice(SIDES), default=None)
@click.option("--age", type=click.Choice(tuple(AGE_BUCKETS)), default=None, help="Days open.")
@click.option("--reason", default=None, help="Only items left open for this reason.")
@click.option("--as-of", default=None, help="Count ages from this date (default: today).")
@limit_option
@cursor_option
@json_option
def unmatched(
    job: str,
    side: str | None,
    age: str | None,
    reason: str | None,
    as_of: str | None,
    limit: int,
    cursor: str | None,
    as_json: bool,
) -> None:
    """A job's unmatched items with their age in days, a page at a time."""
    job_id = parse_id(job, "job")
    filters = UnmatchedFilters(side, age, reason, parse_date(as_of) if as_of else None)
    with fresh() as built:
        page = built.results.unmatched(job_id, filters, limit, cursor)
    show_page(page, UNMATCHED_COLUMNS, as_json)


@cli.command("stats")
@click.argument("job")
@click.option("--as-of", default=None, help="Count ages from this date (default: today).")
@json_option
def stats(job: str, as_of: str | None, as_json: bool) -> None:
    """A job's counts by rule and status, amounts matched and open, open items by age."""
    job_id = parse_id(job, "job")
    with fresh() as built:
        found = built.results.stats(job_id, parse_date(as_of) if as_of else None)
    if as_json:
        emit_json(found)
        return
    console = Console()
    table = Table("rule", "status", "rows", "groups", title=f"job {found['job_id']}")
    for row in found["by_rule"]:
        table.add_row(row["rule"], row["status"], f"{row['rows']:,}", f"{row['groups']:,}")
    console.print(table)
    matched = found["amount_matched"]
    console.print(
        f"amount matched: left {_amount(matched['left'])}, right {_amount(matched['right'])}"
    )
    ages = Table("side", "open items", "amount", *AGE_BUCKETS, title=f"open as of {found['as_of']}")
    for side, row in found["unmatched"].items():
        buckets = (f"{row['by_age'][bucket]:,}" for bucket in AGE_BUCKETS)
        ages.add_row(side, f"{row['items']:,}", _amount(row["amount"]), *buckets)
    console.print(ages)


@cli.command("export")
@click.argument("job")
@click.option("--format", "file_format", type=click.Choice(["csv", "parquet"]), required=True)
@click.option("--out", "out", type=click.Path(path_type=Path), required=True)
@click.option(
    "--what",
    type=click.Choice(["decisions", "unmatched"]),
    default="decisions",
    show_default=True,
)
def export(job: str, file_format: str, out: Path, what: str) -> None:
    """Write a job's decisions (or unmatched items) to FILE, streamed a page at a time;
    prints the file (last). The file appears whole or not at all."""
    job_id = parse_id(job, "job")
    if out.is_dir():
        raise BadInputError(f"--out: {out} is a directory")
    with fresh() as built:
        total = _rows(built.results.job(job_id), what)
        with _atomic(out) as partial, _progress(total) as advance:
            written = _write(
                built.results.export_pages(job_id, what), file_format, partial, advance
            )
    click.echo(f"{written:,} {what} rows written", err=True)
    click.echo(out)


@cli.command("replay")
@click.argument("job")
@click.option("--as-of", default=None, help="ISO 8601 time; without an offset, UTC.")
@click.option("--rerun", "again", is_flag=True, help="Re-run the job and compare its hash.")
@click.option(
    "--limit", default=DEFAULT_LIMIT, show_default=True, type=click.IntRange(0, MAX_LIMIT)
)
@json_option
def replay(job: str, as_of: str | None, again: bool, limit: int, as_json: bool) -> None:
    """The job as it stood at --as-of (from the log), or --rerun: the proof of replay,
    `identical` or the first differing decision (exit 1)."""
    job_id = parse_id(job, "job")
    if again == (as_of is not None):
        raise click.UsageError("give exactly one of --as-of and --rerun")
    with container() as built:
        if again:
            proof = rerun(built.app, job_id)
            if as_json:
                emit_json(proof.as_json())
            elif proof.identical:
                click.echo(f"identical: decisions hash {proof.recorded_hash}")
            else:
                click.echo(f"different: recorded {proof.recorded_hash}, rerun {proof.rerun_hash}")
                click.echo(f"first difference: {proof.first_difference}")
            if not proof.identical:
                sys.exit(EXIT_DIFFERENT)
            return
        moment = parse_time(str(as_of))
        then = job_as_of(built.app, job_id, moment, limit)
    if as_json:
        emit_json(then.as_json())
        return
    shown = then.as_json()
    for key in ("job_id", "as_of", "status", "attempts", "failures", "counts", "decisions_hash"):
        click.echo(f"{key:>18}: {shown[key] if shown[key] is not None else '-'}")
    click.echo(f"{'decisions_recorded':>18}: {then.decisions_recorded:,}")
    review = then.review
    groups = ", ".join(f"{status} {count:,}" for status, count in review["groups"].items())
    click.echo(f"{'review':>18}: version {review['version']}{'; ' + groups if groups else ''}")
    for action in review["pending"]:
        click.echo(f"{'pending':>18}: {action['action_id']} by {action['proposed_by']}")
    if shown["decisions"]:
        columns = (*DECISION_COLUMNS, "review_status")
        show_page(Page(shown["decisions"], None), columns, as_json=False)


@cli.command("diff")
@click.argument("job")
@click.option("--rules", "rules_path", type=click.Path(path_type=Path), required=True)
@click.option(
    "--limit", default=DEFAULT_LIMIT, show_default=True, type=click.IntRange(0, MAX_LIMIT)
)
@json_option
def diff(job: str, rules_path: Path, limit: int, as_json: bool) -> None:
    """What the ruleset in --rules would change on the job's own inputs: decisions added,
    removed and changed, and the counts per rule before and after."""
    job_id = parse_id(job, "job")
    try:
        text = rules_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInputError(f"{rules_path}: cannot read rules: {exc.strerror}") from None
    ruleset = parse_ruleset(text)
    with container() as built:
        found = ruleset_diff(built.app, job_id, ruleset).as_json(limit)
    if as_json:
        emit_json(found)
        return
    counts = found["counts"]
    click.echo(
        f"added {counts['added']:,}, removed {counts['removed']:,}, changed {counts['changed']:,}"
    )
    table = Table("rule", "before", "after", "change")
    for rule, row in found["per_rule"].items():
        table.add_row(
            rule, f"{row['before']:,}", f"{row['after']:,}", f"{row['after'] - row['before']:+,}"
        )
    Console().print(table)
    for kind in ("added", "removed", "changed"):
        if found[kind]:
            click.echo(f"{kind} (first {len(found[kind])}):")
            show_page(Page(found[kind], None), DECISION_COLUMNS, as_json=False)
    for group in found["contradicted"]:
        click.echo(
            f"contradicts {group['review_status']} group {group['group_id']}: {group['why']}"
        )


def show_page(page: Page, columns: tuple[str, ...], as_json: bool) -> None:
    if as_json:
        emit_json(page.as_json())
        return
    table = Table(*columns)
    for item in page.items:
        table.add_row(*(_cell(item.get(column)) for column in columns))
    Console().print(table)
    if page.next_cursor:
        click.echo(f"next page: --cursor {page.next_cursor}", err=True)


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise BadInputError(f"as_of: {text!r} is not an ISO 8601 date") from None


def parse_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadInputError(f"as_of: {text!r} is not an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _amount(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def _rows(job: dict[str, Any], what: str) -> int | None:
    counts = job.get("counts")
    if not isinstance(counts, dict):
        return None
    if what == "unmatched":
        return int(counts.get("unmatched_left", 0)) + int(counts.get("unmatched_right", 0))
    return None  # decision rows (a group is several) are not in the counts


@contextmanager
def _atomic(out: Path) -> Iterator[Path]:
    """A partial file beside `out`, renamed onto it only when complete."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial")
    os.close(fd)
    partial = Path(name)
    try:
        yield partial
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)


@contextmanager
def _progress(total: int | None) -> Iterator[Any]:
    columns = [TextColumn("exporting"), BarColumn(), MofNCompleteColumn()]
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("export", total=total)
        yield lambda rows: progress.advance(task, rows)


def _write(pages: Iterator[pl.DataFrame], file_format: str, path: Path, advance: Any) -> int:
    written = 0
    if file_format == "csv":
        with path.open("wb") as out:
            for page in pages:
                page.write_csv(out, include_header=written == 0)
                written += page.height
                advance(page.height)
        return written
    writer: pq.ParquetWriter | None = None
    try:
        for page in pages:
            table = page.to_arrow()
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema, compression="zstd")
            writer.write_table(table.cast(writer.schema))
            written += page.height
            advance(page.height)
    finally:
        if writer is not None:
            writer.close()
    if writer is None:  # no rows: still a readable, empty file
        pl.DataFrame().write_parquet(path)
    return written
