"""The `tieout` command line. Each command lives in a module of its own."""

from __future__ import annotations

import os
import sys

import click

from engine.errors import BadInputError, ConflictError, NotFoundError
from tieout.cli.root import STATELESS, cli

# Nothing in tieout multiplies matrices: numpy's OpenBLAS threads would only spin at
# start-up, on cores the matcher needs (set before numpy loads, unless the user set it).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

EXIT_BAD_INPUT = 2
EXIT_UNAVAILABLE = 1


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; bad input exits 2 with one readable line and no traceback.

    As the process entry (no `argv`), a command that returns STATELESS ends the process
    right after flushing stdout and stderr, skipping interpreter teardown: freeing every
    object of a 1M-row match one by one took 0.2-0.3 s, about 5% of the whole command,
    and such a command has no atexit work, open transaction or unwritten file left.
    """
    try:
        result = cli.main(args=argv, prog_name="tieout", standalone_mode=False)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.exceptions.NoArgsIsHelpError as exc:  # `tieout`, `tieout jobs`: not an error
        click.echo(exc.ctx.get_help() if exc.ctx else exc.format_message())
        sys.exit(0)
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
    if argv is None and result == STATELESS:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
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
