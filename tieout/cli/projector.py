"""`tieout projector` (long-running), `tieout db migrate` and `tieout db rebuild-projections`."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from projections.projector import LagGauge, rebuild, run_projector
from tieout.bootstrap import bootstrap
from tieout.cli.context import container
from tieout.cli.display import started_line
from tieout.cli.root import cli
from tieout.metrics import serve_metrics
from tieout.settings import load_settings

logger = logging.getLogger(__name__)


@cli.command("projector")
@click.option(
    "--poll-seconds",
    type=click.FloatRange(min=0.05),
    default=1.0,
    show_default=True,
    help="How often the lag gauge is updated and progress logged.",
)
def projector(poll_seconds: float) -> None:
    """Keep every read model up to date with the event log, until SIGTERM or SIGINT."""
    with container("projector") as built:
        port = built.settings.metrics_port_for("projector")
        serve_metrics(port, "projector")
        click.echo(started_line("projector", built, port), err=True)
        stop = threading.Event()

        def on_signal(number: int, frame: FrameType | None) -> None:
            del frame
            logger.warning("%s: stopping", signal.Signals(number).name)
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        run_projector(built.projections, stop, poll_seconds, LagGauge())


@cli.group()
def db() -> None:
    """Database administration."""


@db.command("migrate")
def migrate_database() -> None:
    """Create the tables and apply every migration (run as the database owner)."""
    settings = load_settings().model_copy(update={"migrate": True})
    bootstrap(settings).close()
    click.echo("migrations applied")


@db.command("rebuild-projections")
def rebuild_projections() -> None:
    """Empty every read model and replay the whole log, with a progress bar on stderr;
    prints the events replayed (last).

    Projectors that are running meanwhile notice and start again from the new position.
    """
    with container() as built, _progress() as advance:
        reports = rebuild(built.projections, advance)
    for report in reports:
        rate = report.events / report.seconds if report.seconds else 0.0
        click.echo(
            f"{report.projection}: {report.events} events in {report.seconds:.2f}s ({rate:,.0f}/s)"
        )
    click.echo(max((report.events for report in reports), default=0))


@contextmanager
def _progress() -> Iterator[Callable[[str, int, int], None]]:
    """A bar per projection, moved to each batch's position in the log."""
    columns = [TextColumn("{task.description:<12}"), BarColumn(), MofNCompleteColumn()]
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        tasks: dict[str, TaskID] = {}

        def advance(projection: str, position: int, head: int) -> None:
            if projection not in tasks:
                tasks[projection] = progress.add_task(projection, total=head)
            progress.update(tasks[projection], completed=position)

        yield advance
