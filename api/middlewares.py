"""The request pipeline: `envelope` (request id, problem+json errors, metrics, one JSON
access log line) around `guard` (credentials, rate tier, request timeout) around the
handler; and `stamp_headers`, which gives every answer its `X-Request-ID` and rate-limit
headers as it is prepared, streamed answers (prepared inside the handler) included."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid

from aiohttp import web
from pydantic import ValidationError

from api.auth import authenticate
from api.keys import (
    CLIENT_GONE,
    CONTAINER,
    HTTP_METRICS,
    LIMITS,
    PRINCIPAL,
    RATE_LIMIT,
    REQUEST_ID,
)
from api.logs import CURRENT_REQUEST_ID
from api.problems import Problem, from_domain, from_http, from_validation, response
from api.routes import BY_HANDLER, Handler
from engine.errors import TieoutError

logger = logging.getLogger("tieout.api")
SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
CLIENT_CLOSED = 499  # logged and counted for a client that left before its answer ended


def request_id(request: web.Request) -> str:
    """The client's X-Request-ID when it is sane (charset, length), else a new one."""
    given = request.headers.get("X-Request-ID", "")
    return given if SANE_REQUEST_ID.match(given) else uuid.uuid4().hex


@web.middleware
async def envelope(request: web.Request, handler: Handler) -> web.StreamResponse:
    rid = request[REQUEST_ID] = request_id(request)
    token = CURRENT_REQUEST_ID.set(rid)
    metrics = request.app[HTTP_METRICS]
    metrics.in_flight.inc()
    started = time.perf_counter()
    status = 500
    try:
        answer = await _answer(request, handler)
    except asyncio.CancelledError:  # the server cancels a handler whose client has gone
        status = CLIENT_CLOSED
        raise
    else:
        status = CLIENT_CLOSED if request.get(CLIENT_GONE) else answer.status
        return answer
    finally:
        elapsed = time.perf_counter() - started
        route = _template(request)
        metrics.in_flight.dec()
        metrics.requests.labels(request.method, route, str(status)).inc()
        metrics.latency.labels(request.method, route, str(status)).observe(elapsed)
        principal = request.get(PRINCIPAL)
        fields = {
            "method": request.method,
            "route": route,
            "status": status,
            "ms": round(elapsed * 1000, 3),
            "actor": principal.actor if principal else "",
        }
        logger.info("%s %s %s", request.method, route, status, extra={"fields": fields})
        CURRENT_REQUEST_ID.reset(token)


async def _answer(  # noqa: PLR0911 - one return per kind of failure
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    """The handler's answer, or the problem document of whatever it raised."""
    try:
        return await handler(request)
    except Problem as problem:
        return response(problem)
    except TieoutError as exc:
        return response(from_domain(exc))
    except ValidationError as exc:
        return response(from_validation(exc))
    except web.HTTPException as exc:
        if exc.status < 400:  # noqa: PLR2004 - redirects and 304 are answers, not problems
            return exc
        return response(from_http(exc))
    except TimeoutError:
        return response(Problem(503, "Service Unavailable", "the request took too long"))
    except Exception:
        logger.exception("unhandled error in %s %s", request.method, request.path)
        return response(Problem(500, "Internal Server Error", "see the server log"))


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Authenticate, take a token from the route's rate tier, run within the timeout."""
    route = BY_HANDLER.get(request.match_info.handler)
    if route is None or route.tier is None:
        return await handler(request)
    principal = await authenticate(request)
    decision = await request.app[LIMITS].take(route.tier, f"{principal.kind}:{principal.id}")
    if not decision.allowed:
        raise Problem(429, "Too Many Requests", f"{route.tier} limit reached", decision.headers())
    request[RATE_LIMIT] = decision.headers()
    if route.streamed:
        return await handler(request)
    async with asyncio.timeout(request.app[CONTAINER].settings.request_timeout_seconds):
        return await handler(request)


async def stamp_headers(request: web.Request, answer: web.StreamResponse) -> None:
    """On every answer as it is prepared (`on_response_prepare`): a handler that streams
    prepares its answer before the middlewares see it, so they cannot add headers."""
    rid = request.get(REQUEST_ID)
    if rid is not None:
        answer.headers.setdefault("X-Request-ID", rid)
    for name, value in request.get(RATE_LIMIT, {}).items():
        answer.headers.setdefault(name, value)


def _template(request: web.Request) -> str:
    route = request.match_info.route
    resource = route.resource
    return resource.canonical if resource is not None else "unmatched"
