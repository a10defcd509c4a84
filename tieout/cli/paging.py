"""What the CLI's list commands share: page options, fresh read models, the lag warning.

On the embedded default a list command first catches the read models up; against a server
it reads what the projector has written and says how far behind that is.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID

import click

from projections.projector import catch_up
from projections.results_query import DEFAULT_LIMIT, MAX_LIMIT
from tieout.bootstrap import Container
from tieout.cli.context import container

CATCH_UP_SECONDS = 120.0

limit_option = click.option(
    "--limit",
    default=DEFAULT_LIMIT,
    show_default=True,
    type=click.IntRange(1, MAX_LIMIT),
    help="Items per page.",
)
cursor_option = click.option("--cursor", default=None, help="The next_cursor of the page before.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@contextmanager
def fresh(project_id: UUID | None = None) -> Iterator[Container]:
    """The container, its read models caught up (embedded) or their lag said (a server).

    A project that is not in the log is an error before anything is read: never an empty
    list that might only mean the read models are behind.
    """
    with container() as built:
        if project_id is not None:
            built.app.get_project(project_id)
        if built.settings.database_url is None:
            behind = catch_up(built.projections, CATCH_UP_SECONDS)
        else:
            behind = built.lags.most()
        warn_behind(behind, "the read models are")
        yield built


def warn_behind(behind: int, subject: str) -> None:
    """`warning: <subject> N events behind the log ...` on stderr, when N is not 0."""
    if behind:
        click.echo(
            f"warning: {subject} {behind:,} events behind the log (is `tieout projector` running?)",
            err=True,
        )
