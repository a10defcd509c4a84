"""`tieout serve`: the API; on the embedded default also in-process workers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import click
from aiohttp import web

from api.app import create_app
from api.logs import use_json_logs
from engine.errors import BadInputError
from engine.threads import join_all
from projections.projector import LagGauge, run_projector
from tieout.backups import start_backup_schedule
from tieout.bootstrap import Container
from tieout.cli.context import container
from tieout.cli.display import safe_url
from tieout.cli.root import cli
from tieout.metrics import register_queue_metrics, register_worker_metrics
from tieout.settings import Settings
from tieout.workers import build_worker, start_in_background


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
def serve(host: str, port: int) -> None:
    """Serve the HTTP API (/api, docs at /api/docs) and /metrics. With no
    TIEOUT_DATABASE_URL (the embedded default) it also runs TIEOUT_WORKER_CONCURRENCY jobs at
    a time and the projector."""
    with container("api") as built:
        register_queue_metrics(built.queue)
        if built.settings.database_url is not None:
            _run_app(built, host, port)
            return
        worker = build_worker(built)
        register_worker_metrics(worker)
        threads = [start_in_background(worker), _start_projector(built, stop := threading.Event())]
        if built.settings.backup_interval_seconds > 0:
            threads.append(start_backup_schedule(built, stop))
        try:
            _run_app(built, host, port)
        finally:
            click.echo("tieout serve: stopping the worker after its jobs in hand", err=True)
            worker.stop()
            stop.set()
            join_all(threads)


def _run_app(built: Container, host: str, port: int) -> None:
    use_json_logs()
    try:
        web.run_app(
            create_app(built),
            host=host,
            port=port,
            print=_announcer(built, host, port),
            access_log=None,  # the API logs each request itself, as JSON with its request id
            **server_options(built.settings),
        )
    except OSError as error:
        msg = f"{host}:{port}: {error.strerror or error}; choose another with --host/--port"
        raise BadInputError(msg) from None


def server_options(settings: Settings) -> dict[str, Any]:
    """How the server treats slow and departed clients.

    aiohttp has no timeout of its own for reading a request head, but its keep-alive timer
    starts when a connection opens (and again after each answer) and closes a connection
    still waiting for a complete request when it fires: with TIEOUT_HEADER_TIMEOUT_SECONDS
    as that timer, a client trickling its headers is cut off within it. Handler
    cancellation stops the handler of a client that has gone, so it holds no thread slot
    waiting to write an answer nobody reads (a call already running in a thread ends on
    its own)."""
    return {"keepalive_timeout": settings.header_timeout_seconds, "handler_cancellation": True}


def _announcer(built: Container, host: str, port: int) -> Callable[[str], None]:
    """What `run_app` calls once the socket listens: where to find the API and the data."""
    base = f"http://{host}:{port}"
    lines = [
        f"tieout serve: listening on {base} (/api/health, /api/ready, /metrics); Ctrl-C stops it",
        f"tieout serve: database {safe_url(built.database_url)}",
    ]
    if built.settings.database_url is None:
        lines.append("tieout serve: running jobs and the projector in this process too")
        if built.settings.backup_interval_seconds > 0:
            lines.append(
                f"tieout serve: a snapshot every {built.settings.backup_interval_seconds:g}s"
                f" to {built.backup_store.location}"
            )

    def announce(message: str) -> None:
        del message  # aiohttp's own banner; ours says more
        for line in lines:
            click.echo(line, err=True)

    return announce


def _start_projector(built: Container, stop: threading.Event) -> threading.Thread:
    thread = threading.Thread(
        target=run_projector,
        args=(built.projections, stop, built.settings.poll_seconds, LagGauge()),
        name="projector",
        daemon=True,
    )
    thread.start()
    return thread
