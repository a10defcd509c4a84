"""`tieout worker`: run jobs until SIGTERM."""

from __future__ import annotations

import logging
import signal
from types import FrameType

import click

from engine.worker.loop import Worker
from tieout.cli.context import container
from tieout.cli.display import started_line
from tieout.cli.root import cli
from tieout.metrics import register_worker_metrics, serve_metrics
from tieout.workers import build_worker

logger = logging.getLogger(__name__)


@cli.command("worker")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    default=None,
    help="Jobs at a time (default: TIEOUT_WORKER_CONCURRENCY).",
)
def worker(concurrency: int | None) -> None:
    """Claim and run jobs. SIGTERM: finish the jobs in hand, then exit; a second
    SIGTERM (or SIGINT) releases their leases at the next checkpoint instead."""
    with container("worker") as built:
        running = build_worker(built, concurrency)
        register_worker_metrics(running)
        port = built.settings.metrics_port_for("worker")
        serve_metrics(port, "worker")
        _handle_signals(running)
        click.echo(started_line("worker", built, port), err=True)
        click.echo(
            f"tieout worker: {running.config.name} runs up to {running.config.concurrency} "
            "jobs at a time; SIGTERM or Ctrl-C stops it",
            err=True,
        )
        running.run()


def _handle_signals(running: Worker) -> None:
    def on_term(number: int, frame: FrameType | None) -> None:
        del frame
        if running.stopping.is_set() or number == signal.SIGINT:
            logger.warning("releasing leases and stopping")
            running.abandon()
        else:
            logger.warning("stopping after the jobs in hand (signal again to release them)")
            running.stop()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
