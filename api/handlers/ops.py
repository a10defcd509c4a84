"""The operational surface: liveness with job counts, readiness, metrics.

Readiness is the database answering and the audit index within READY_MAX_LAG events of the
log (the API's lists read it).
"""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.handlers.common import answer, run, services
from api.keys import CONTAINER, METRICS

READY_MAX_LAG = 1_000


async def health(request: web.Request) -> web.Response:
    """Alive, with the jobs pending, running, completed and failed today, dead letters."""
    return answer(await run(services(request).health))


async def ready(request: web.Request) -> web.Response:
    """Ready when the event store answers and every read model trails the log by at most
    READY_MAX_LAG events; the lag of each is in the body."""
    container = request.app[CONTAINER]
    try:
        lags = await run(container.lags.behind)
    except Exception as exc:  # noqa: BLE001 - any failure means not ready; say which
        return answer({"status": "unavailable", "error": str(exc)}, status=503)
    behind = max(lags.values(), default=0)
    body = {"status": "ready", "projection_lag_events": behind, "projections": lags}
    if behind > READY_MAX_LAG:
        return answer(body | {"status": "catching up"}, status=503)
    return answer(body)


async def metrics(request: web.Request) -> web.Response:
    body = await run(generate_latest, request.app[METRICS])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
