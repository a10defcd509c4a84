"""How commands show things to people: tables with headers, key-value panels, start lines.

`--json` output never comes through here: it is machine output (`context.emit_json`).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import Any

import click
from psycopg.conninfo import conninfo_to_dict
from rich.console import Console
from rich.table import Table

from tieout.bootstrap import Container

EMPTY = "-"
PIPE_WIDTH = 1000


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], empty: str) -> None:
    """A table with a header row; `empty` is said instead when there are no rows."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    for number, header in enumerate(headers):
        last = number == len(headers) - 1
        table.add_column(header, no_wrap=not last, overflow="fold")
    for row in rows:
        table.add_row(*(cell_text(cell) for cell in row))
    if not table.row_count:
        click.echo(empty)
        return
    _print(table)


def print_fields(fields: Iterable[tuple[str, Any]]) -> None:
    """One `name  value` line per field, names aligned, values as people read them."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", justify="right")
    table.add_column()
    for name, value in fields:
        table.add_row(name, cell_text(value))
    _print(table)


def _print(table: Table) -> None:
    """The terminal's width on a terminal; into a pipe or file, lines as long as they are.
    Without the padding rich adds after the last column."""
    console = Console(width=None if sys.stdout.isatty() else PIPE_WIDTH)
    with console.capture() as captured:
        console.print(table)
    for line in captured.get().splitlines():
        click.echo(line.rstrip())


def cell_text(value: Any) -> str:
    """None as a dash, whole numbers with thousands separators, the rest as text."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.3g}"
    return str(value)


def safe_url(url: str) -> str:
    """The database URL without its password, fit to print and to pass to psql."""
    parts = {key: str(value) for key, value in conninfo_to_dict(url).items() if value}
    parts.pop("password", None)
    user, dbname = parts.pop("user", ""), parts.pop("dbname", "")
    host = parts.pop("host", "")
    if host.startswith("/"):  # a Unix socket directory goes in the query
        parts = {"host": host, **parts}
        host = ""
    elif "port" in parts:
        host += f":{parts.pop('port')}"
    authority = f"{user}@{host}" if user else host
    query = "&".join(f"{key}={value}" for key, value in parts.items())
    return f"postgresql://{authority}/{dbname}" + (f"?{query}" if query else "")


def started_line(process: str, built: Container, metrics_port: int) -> str:
    """What a long-running process says once it is ready: where its data and metrics are."""
    metrics = f"metrics on :{metrics_port}/metrics" if metrics_port else "no metrics port"
    return f"tieout {process}: database {safe_url(built.database_url)}; {metrics}"
