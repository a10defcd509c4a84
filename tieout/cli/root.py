"""The root command group. Command modules attach themselves to it, and are imported only
when their command runs (or for `--help`): `tieout match` never pays for psycopg, aiohttp
or eventsourcing, which more than tripled its start-up."""

from __future__ import annotations

import importlib

import click

from tieout import __version__
from tieout.allocator import configure_allocators

# What a command returns when it leaves nothing to shut down: no database connection,
# thread, atexit handler or unwritten file. `main` then skips interpreter teardown.
STATELESS = "stateless"

COMMAND_MODULES = {
    "apikeys": "users",
    "audit": "audit",
    "backup": "backup",
    "db": "projector",
    "demo": "demo",
    "diff": "results",
    "export": "results",
    "jobs": "jobs",
    "match": "match",
    "projector": "projector",
    "projects": "listing,review",  # list/show, and configure, added to write's group
    "replay": "results",
    "results": "results",
    "review": "review",
    "rulesets": "listing",  # imports write, whose groups it adds list/show to
    "serve": "serve",
    "sources": "listing",  # imports write, whose groups it adds list/show to
    "stats": "results",
    "status": "status",
    "unmatched": "results",
    "users": "users",
    "worker": "worker",
}

ONE_MATCH = frozenset({"match"})
"""Commands that run one large match and nothing beside it: their allocators are set for
that (tieout.allocator) before the command's module loads polars. A long-running process
(serve, worker, projector) keeps the allocators' defaults: it runs many allocating
threads at once, where fewer arenas could make them wait, and that was not measured."""


class LazyGroup(click.Group):
    """A group whose subcommands live in `tieout.cli.<module>` (several modules, comma
    separated, when each adds commands to one group), imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        del ctx  # every command is listed, whatever the context
        return sorted(COMMAND_MODULES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        modules = COMMAND_MODULES.get(cmd_name)
        if modules is not None and cmd_name not in self.commands:
            if cmd_name in ONE_MATCH:
                configure_allocators()
            for module in modules.split(","):
                importlib.import_module(f"tieout.cli.{module}")
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tieout")
def cli() -> None:
    """Tieout: event-sourced reconciliation of two data sources."""
