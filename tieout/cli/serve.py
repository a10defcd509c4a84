"""`tieout serve`: the API; on the embedded default also in-process workers."""

from __future__ import annotations

import logging
import threading

import click
from aiohttp import web

from api.health import create_app
from projections.projector import LagGauge, run_projector
from tieout.bootstrap import Container
from tieout.cli.context import container
from tieout.cli.root import cli
from tieout.metrics import register_queue_metrics, register_worker_metrics
from tieout.workers import build_worker, start_in_background

logger = logging.getLogger(__name__)


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
def serve(host: str, port: int) -> None:
    """Serve /api/health, /api/ready and /metrics. With no TIEOUT_DATABASE_URL (the embedded
    default) it also runs TIEOUT_WORKER_CONCURRENCY jobs at a time and the projector."""
    with container("api") as built:
        register_queue_metrics(built.queue)
        if built.settings.database_url is not None:
            web.run_app(create_app(built), host=host, port=port, print=None)
            return
        worker = build_worker(built)
        register_worker_metrics(worker)
        threads = [start_in_background(worker), _start_projector(built, stop := threading.Event())]
        try:
            web.run_app(create_app(built), host=host, port=port, print=None)
        finally:
            logger.warning("stopping the in-process worker after its jobs in hand")
            worker.stop()
            stop.set()
            for thread in threads:
                thread.join()


def _start_projector(built: Container, stop: threading.Event) -> threading.Thread:
    thread = threading.Thread(
        target=run_projector,
        args=(built.projections, stop, built.settings.poll_seconds, LagGauge()),
        name="projector",
        daemon=True,
    )
    thread.start()
    return thread
