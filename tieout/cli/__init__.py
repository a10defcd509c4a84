"""The `tieout` command line. Each command lives in a module of its own."""

from __future__ import annotations

import sys

import click

from engine.errors import BadInputError, ConflictError, NotFoundError
from tieout.cli.root import cli

EXIT_BAD_INPUT = 2
EXIT_UNAVAILABLE = 1


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; bad input exits 2 with one readable line and no traceback."""
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
    except Exception as exc:
        if not is_database_error(exc):
            raise
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        click.echo(f"error: database unavailable: {reason}", err=True)
        sys.exit(EXIT_UNAVAILABLE)
    sys.exit(0)


def is_database_error(exc: Exception) -> bool:
    """psycopg's connection errors and eventsourcing's wrappers of them.

    Imported here, not at the top: commands without a database must not load psycopg.
    """
    import psycopg  # noqa: PLC0415
    from eventsourcing import persistence  # noqa: PLC0415

    unavailable = (
        psycopg.OperationalError,
        psycopg.InterfaceError,
        persistence.OperationalError,
        persistence.InterfaceError,
    )
    return isinstance(exc, unavailable)
