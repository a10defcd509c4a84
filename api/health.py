"""The small operational surface of the API: liveness, readiness, metrics.

Handlers run the synchronous application in threads (docs/adr/0002).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from prometheus_client.registry import CollectorRegistry

from tieout.bootstrap import Container
from tieout.metrics import DURATION_BUCKETS

READY_MAX_LAG = 1_000  # events the audit index may trail the log by and still be ready
CONTAINER = web.AppKey("container", Container)
METRICS = web.AppKey("metrics", CollectorRegistry)


def create_app(container: Container, registry: CollectorRegistry = REGISTRY) -> web.Application:
    app = web.Application()
    app[CONTAINER] = container
    app[METRICS] = registry
    app.cleanup_ctx.append(bounded_executor)
    app.router.add_get("/api/health", health)
    app.router.add_get("/api/ready", ready)
    app.router.add_get("/metrics", metrics)
    return app


async def bounded_executor(app: web.Application) -> AsyncIterator[None]:
    """Threads for the synchronous application, no more than database connections (ADR 0002)."""
    size = app[CONTAINER].settings.db_pool_size
    executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="tieout-api")
    asyncio.get_running_loop().set_default_executor(executor)
    yield
    executor.shutdown(wait=True)


async def health(request: web.Request) -> web.Response:
    """Alive, with the jobs by status."""
    container = request.app[CONTAINER]
    stats = await asyncio.to_thread(container.queue.stats, DURATION_BUCKETS)
    body: dict[str, Any] = {"status": "ok", "jobs": stats.jobs_by_status}
    return web.json_response(body)


async def ready(request: web.Request) -> web.Response:
    """Ready when the event store answers and the audit index is within READY_MAX_LAG."""
    container = request.app[CONTAINER]
    try:
        behind = await asyncio.to_thread(container.audit.lag)
    except Exception as exc:  # noqa: BLE001 - any failure means not ready; say which
        return web.json_response({"status": "unavailable", "error": str(exc)}, status=503)
    body = {"status": "ready", "projection_lag_events": behind}
    if behind > READY_MAX_LAG:
        return web.json_response(body | {"status": "catching up"}, status=503)
    return web.json_response(body)


async def metrics(request: web.Request) -> web.Response:
    body = await asyncio.to_thread(generate_latest, request.app[METRICS])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
