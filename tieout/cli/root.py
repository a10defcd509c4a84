"""The root command group; command modules attach themselves to it."""

from __future__ import annotations

import click

from tieout import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tieout")
def cli() -> None:
    """Tieout: event-sourced reconciliation of two data sources."""
