"""`tieout review ...` and `tieout projects configure`: people working a job's results.

Every command that records an action prints the action's id as its last line. The acting
person is `--actor NAME` (recorded as `cli:NAME`), by default the OS user.

The reading commands import tieout.cli.results (pyarrow, rich) only when they run: the
recording commands, a bulk confirmation above all, need none of it.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from typing import Any

import click

from engine.domain.meta import EventMeta, event_meta
from engine.domain.review import REASON_CODES
from engine.domain.review_baseline import SIDES
from engine.reviews import Reviews, parse_threshold
from projections.results_query import DEFAULT_LIMIT, MAX_LIMIT
from tieout.cli.context import container, emit_json, parse_id
from tieout.cli.root import cli
from tieout.cli.write import projects

QUEUE_COLUMNS = (
    "group_id",
    "left_id",
    "right_id",
    "rule",
    "confidence",
    "status",
    "review_status",
    "action_id",
)


def actor_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--actor", default=None, help="Who is acting (default: the OS user).")(
        command
    )


def comment_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--comment", default="", help="Why; recorded with the action.")(command)


def review_meta(actor: str | None, command: str) -> EventMeta:
    name = (actor if actor is not None else getpass.getuser()).strip()
    if not name:
        raise click.BadParameter("must not be empty", param_hint="--actor")
    recorded = name if name.startswith("cli:") else f"cli:{name}"
    return event_meta(actor=recorded, causation=f"review.{command}")


@projects.command("configure")
@click.argument("project")
@click.option(
    "--four-eyes-above",
    default=None,
    metavar="AMOUNT",
    help="Manual matches, unmatches and reverts above AMOUNT need a second person (0: all).",
)
@click.option("--no-four-eyes", is_flag=True, help="Turn four-eyes approval off.")
@actor_option
def configure(
    project: str, four_eyes_above: str | None, no_four_eyes: bool, actor: str | None
) -> None:
    """Change a project's settings, recorded as an event."""
    project_id = parse_id(project, "project")
    if (four_eyes_above is None) == (not no_four_eyes):
        raise click.UsageError("give exactly one of --four-eyes-above and --no-four-eyes")
    above = None if no_four_eyes else parse_threshold(str(four_eyes_above))
    meta = review_meta(actor, "configure")
    with container() as built:
        changed = Reviews(built.app).configure_four_eyes(project_id, above, meta)
    setting = "off" if above is None else f"above {above}"
    click.echo(f"four-eyes approval: {setting}{'' if changed else ' (unchanged)'}")


@cli.group()
def review() -> None:
    """Confirm, reject, match by hand, undo, approve and explain a job's results."""


@review.command("queue")
@click.argument("job")
@click.option(
    "--order",
    type=click.Choice(["confidence", "amount"]),
    default="confidence",
    show_default=True,
)
@click.option(
    "--limit", default=DEFAULT_LIMIT, show_default=True, type=click.IntRange(1, MAX_LIMIT)
)
@click.option("--cursor", default=None, help="The next_cursor of the page before.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def queue(job: str, order: str, limit: int, cursor: str | None, as_json: bool) -> None:
    """The job's decisions awaiting a person: suggested, and pending approval."""
    from tieout.cli.paging import fresh  # noqa: PLC0415 - see the module's docstring
    from tieout.cli.results import show_page  # noqa: PLC0415 - see the module's docstring

    job_id = parse_id(job, "job")
    with fresh() as built:
        page = built.results.review_queue(job_id, order, limit, cursor)
    show_page(page, QUEUE_COLUMNS, as_json)


@review.command("exceptions")
@click.argument("job")
@click.option("--limit", default=DEFAULT_LIMIT, type=click.IntRange(1, MAX_LIMIT))
@click.option("--cursor", default=None, help="The next_cursor of the page before.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def exceptions(job: str, limit: int, cursor: str | None, as_json: bool) -> None:
    """The job's open items, oldest first, with reason code and assignee."""
    from tieout.cli.paging import fresh  # noqa: PLC0415 - see the module's docstring
    from tieout.cli.results import show_page  # noqa: PLC0415 - see the module's docstring

    job_id = parse_id(job, "job")
    with fresh() as built:
        page = built.results.exception_queue(job_id, limit=limit, cursor=cursor)
    columns = ("side", "id", "amount", "date", "age_days", "reason", "reason_code", "assignee")
    show_page(page, columns, as_json)


@review.command("stats")
@click.argument("job")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def stats(job: str, as_json: bool) -> None:
    """How many groups are automatic, confirmed, rejected, manual, pending; items open."""
    from tieout.cli.paging import fresh  # noqa: PLC0415 - see the module's docstring

    job_id = parse_id(job, "job")
    with fresh() as built:
        found = built.results.review_stats(job_id)
    if as_json:
        emit_json(found)
        return
    for section in ("groups", "items"):
        shown = " · ".join(f"{name} {count:,}" for name, count in found[section].items())
        click.echo(f"{section}: {shown}")


@review.command("confirm")
@click.argument("job")
@click.argument("group", required=False)
@click.option("--all-suggested", is_flag=True, help="Every undecided suggested group.")
@click.option("--min-confidence", type=click.FloatRange(0, 1), default=None)
@comment_option
@actor_option
def confirm(
    job: str,
    group: str | None,
    all_suggested: bool,
    min_confidence: float | None,
    comment: str,
    actor: str | None,
) -> None:
    """Confirm GROUP, or with --all-suggested every suggested group at --min-confidence or
    above (batched events in one transaction)."""
    job_id = parse_id(job, "job")
    if all_suggested == (group is not None):
        raise click.UsageError("give exactly one of GROUP and --all-suggested")
    if min_confidence is not None and not all_suggested:
        raise click.UsageError("--min-confidence goes with --all-suggested")
    meta = review_meta(actor, "confirm")
    with container() as built:
        reviews = Reviews(built.app)
        if group is not None:
            click.echo(reviews.confirm(job_id, [group], comment, meta))
            return
        action, count = reviews.confirm_suggested(job_id, min_confidence or 0.0, comment, meta)
    click.echo(f"{count:,} groups confirmed", err=True)
    click.echo(action)


@review.command("reject")
@click.argument("job")
@click.argument("group")
@comment_option
@actor_option
def reject(job: str, group: str, comment: str, actor: str | None) -> None:
    """Reject a suggested GROUP: its items are open again."""
    _record(job, "reject", actor, lambda r, j, m: r.reject(j, group, comment, m))


@review.command("match")
@click.argument("job")
@click.option("--left", "left_ids", multiple=True, required=True, help="A left id (repeat).")
@click.option("--right", "right_ids", multiple=True, required=True, help="A right id (repeat).")
@comment_option
@actor_option
def match(
    job: str, left_ids: tuple[str, ...], right_ids: tuple[str, ...], comment: str, actor: str | None
) -> None:
    """Match open items by hand (any number on each side); the amount difference is kept."""
    _record(job, "match", actor, lambda r, j, m: r.match(j, left_ids, right_ids, comment, m))


@review.command("unmatch")
@click.argument("job")
@click.argument("group")
@comment_option
@actor_option
def unmatch(job: str, group: str, comment: str, actor: str | None) -> None:
    """Undo a matched, confirmed or manual GROUP: its items are open again."""
    _record(job, "unmatch", actor, lambda r, j, m: r.unmatch(j, group, comment, m))


@review.command("revert-auto")
@click.argument("job")
@click.option("--rule", default=None, help="Only this rule's automatic matches.")
@comment_option
@actor_option
def revert_auto(job: str, rule: str | None, comment: str, actor: str | None) -> None:
    """Undo every automatic match nobody has confirmed (of --rule, or of all rules)."""
    _record(job, "revert-auto", actor, lambda r, j, m: r.revert_auto(j, rule, comment, m))


@review.command("approve")
@click.argument("job")
@click.argument("action")
@comment_option
@actor_option
def approve(job: str, action: str, comment: str, actor: str | None) -> None:
    """Approve a pending ACTION (never your own)."""
    _record(job, "approve", actor, lambda r, j, m: r.approve(j, action, comment, m))


@review.command("decline")
@click.argument("job")
@click.argument("action")
@comment_option
@actor_option
def decline(job: str, action: str, comment: str, actor: str | None) -> None:
    """Decline a pending ACTION: nothing it asked for happens."""
    _record(job, "decline", actor, lambda r, j, m: r.decline(j, action, comment, m))


@review.command("explain")
@click.argument("job")
@click.option("--side", type=click.Choice(SIDES), required=True)
@click.option("--id", "item_id", required=True, help="The open item's id.")
@click.option("--reason", type=click.Choice(REASON_CODES), required=True)
@click.option("--note", default="", help="What happened.")
@actor_option
def explain(job: str, side: str, item_id: str, reason: str, note: str, actor: str | None) -> None:
    """Give an open item a reason code and a note."""
    item = (side, item_id)
    _record(job, "explain", actor, lambda r, j, m: r.explain(j, item, reason, note, m))


@review.command("assign")
@click.argument("job")
@click.option("--side", type=click.Choice(SIDES), required=True)
@click.option("--id", "item_id", required=True, help="The open item's id.")
@click.option("--to", "assignee", required=True, help="Who works on it.")
@comment_option
@actor_option
def assign(
    job: str, side: str, item_id: str, assignee: str, comment: str, actor: str | None
) -> None:
    """Give an open item to someone."""
    item = (side, item_id)
    _record(job, "assign", actor, lambda r, j, m: r.assign(j, item, assignee, comment, m))


@review.command("comment")
@click.argument("job")
@click.argument("group")
@click.option("--comment", required=True, help="The comment.")
@actor_option
def comment_on(job: str, group: str, comment: str, actor: str | None) -> None:
    """Comment on a GROUP."""
    _record(job, "comment", actor, lambda r, j, m: r.comment(j, group, comment, m))


def _record(
    job: str,
    command: str,
    actor: str | None,
    act: Callable[[Reviews, Any, EventMeta], str],
) -> None:
    job_id = parse_id(job, "job")
    meta = review_meta(actor, command)
    with container() as built:
        click.echo(act(Reviews(built.app), job_id, meta))
