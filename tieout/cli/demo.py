"""`tieout demo`."""

from __future__ import annotations

import click
from rich.console import Console

from demo.narrated import run_demo
from tieout.cli.context import container
from tieout.cli.root import cli


@cli.command("demo")
@click.option("--rows", default=100_000, show_default=True, help="Bank rows to generate.")
@click.option("--seed", default=7, show_default=True, help="Seed of the data generator.")
def demo(rows: int, seed: int) -> None:
    """Generate a bank statement and a ledger with ground truth and reconcile them."""
    if rows < 10:  # noqa: PLR2004 - the generator needs a few rows of each kind
        raise click.BadParameter("must be at least 10", param_hint="--rows")
    with container() as built:
        run_demo(built, rows, seed, Console())
