"""`tieout audit events`: query the audit index."""

from __future__ import annotations

import difflib
import importlib

import click

from engine.domain import stored_event_classes
from projections.audit_query import MAX_LIMIT, parse_filters
from projections.audit_rows import AuditRow
from projections.projector import catch_up
from tieout.cli.context import container, emit_json
from tieout.cli.paging import warn_behind
from tieout.cli.root import cli

CATCH_UP_SECONDS = 30.0
AUDIT_INDEX = "audit_index"  # its name in projections/registry.py
HEADERS = ("occurred_at", "event_type", "actor", "request_id", "causation", "originator")


@cli.group()
def audit() -> None:
    """The audit trail: who did what, when, on whose request."""


@audit.command("events")
@click.option("--actor", default=None, help="Only events by this actor (e.g. cli:alice).")
@click.option("--type", "event_type", default=None, help="Only this event type.")
@click.option("--request-id", default=None, help="Only events caused by this request.")
@click.option("--project", default=None, help="Only events of this project (its id).")
@click.option("--since", default=None, help="From this ISO 8601 time (UTC unless given).")
@click.option("--until", default=None, help="Before this ISO 8601 time.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, MAX_LIMIT))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def events(
    actor: str | None,
    event_type: str | None,
    request_id: str | None,
    project: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Indexed events, newest first. On the embedded default the index is caught up first."""
    filters = parse_filters(
        actor=actor,
        event_type=event_type,
        request_id=request_id,
        project=project,
        since=since,
        until=until,
        limit=limit,
    )
    with container() as built:
        if built.settings.database_url is None:
            behind = catch_up(built.projections, CATCH_UP_SECONDS)
        else:
            behind = built.lags.behind()[AUDIT_INDEX]
        warn_behind(behind, "the audit index is")
        rows = built.audit.events(filters)
    if not rows and event_type:
        _hint_event_type(event_type)
    if as_json:
        emit_json([row.as_json() for row in rows])
        return
    _print_table(rows)


def _hint_event_type(event_type: str) -> None:
    """Event types are class names, matched exactly: say so when a near miss found nothing."""
    known = sorted({event.__name__ for event in stored_event_classes()})
    if event_type in known:
        return
    close = [name for name in known if name.lower() == event_type.lower()]
    close = close or difflib.get_close_matches(event_type, known, n=3)
    suggestion = f"; did you mean {' or '.join(close)}?" if close else ""
    click.echo(
        f"note: no event type is named {event_type!r} (types are case-sensitive: "
        f"ProjectCreated, JobCompleted, ...){suggestion}",
        err=True,
    )


def _print_table(rows: list[AuditRow]) -> None:
    lines = [HEADERS, *(_cells(row) for row in rows)]
    widths = [max(len(line[column]) for line in lines) for column in range(len(HEADERS))]
    for line in lines:
        cells = (cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        click.echo("  ".join(cells).rstrip())


def _cells(row: AuditRow) -> tuple[str, ...]:
    occurred = row.occurred_at.isoformat(timespec="seconds") if row.occurred_at else "?"
    originator = f"{row.originator_id}:{row.originator_version}"
    return (occurred, row.event_type, row.actor, row.request_id, row.causation, originator)


# The chain and proof commands (verify, ...) live beside, on this group.
importlib.import_module("tieout.cli.audit_proofs")
