"""The `tieout` command line. Each command lives in a module of its own."""

from __future__ import annotations

import sys

import click
import psycopg
from eventsourcing import persistence

from engine.errors import BadInputError, ConflictError, NotFoundError
from tieout.cli.root import cli

EXIT_BAD_INPUT = 2
EXIT_UNAVAILABLE = 1
# psycopg's own (from migrations and queue queries) and eventsourcing's wrappers of them
DATABASE_ERRORS = (
    psycopg.OperationalError,
    psycopg.InterfaceError,
    persistence.OperationalError,
    persistence.InterfaceError,
)


def _register_commands() -> None:
    # Imported for their side effect of attaching commands to `cli`.
    from tieout.cli import audit, demo, jobs, match, projector, serve, worker, write  # noqa: F401, PLC0415


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; bad input exits 2 with one readable line and no traceback."""
    _register_commands()
    try:
        cli.main(args=argv, prog_name="tieout", standalone_mode=False)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.Abort:
        click.echo("error: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    except (BadInputError, NotFoundError, ConflictError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    except DATABASE_ERRORS as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        click.echo(f"error: database unavailable: {reason}", err=True)
        sys.exit(EXIT_UNAVAILABLE)
    sys.exit(0)
