"""`tieout projector` (long-running), `tieout db migrate` and `tieout db rebuild-projections`."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

import click

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
    """Empty every read model and replay the whole log; prints the events projected (last).

    Projectors that are running meanwhile notice and start again from the new position.
    """
    with container() as built:
        reports = rebuild(built.projections)
    for report in reports:
        rate = report.events / report.seconds if report.seconds else 0.0
        click.echo(
            f"{report.projection}: {report.events} events in {report.seconds:.2f}s ({rate:,.0f}/s)"
        )
    click.echo(max((report.events for report in reports), default=0))
