"""`create_app(container)`: the aiohttp application of the HTTP API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web
from prometheus_client import REGISTRY
from prometheus_client.registry import CollectorRegistry

from api.keys import (
    CONTAINER,
    HTTP_METRICS,
    JOB_READS,
    JOB_REVIEWS,
    LIMITS,
    LONG_CALLS,
    METRICS,
    OPENAPI,
    SERVICES,
)
from api.metrics import HttpMetrics
from api.middlewares import envelope, guard, stamp_headers
from api.openapi import openapi_document
from api.ratelimit import MemoryLimiter, RateLimiter, RateLimits, parse_tiers, shared_limiter
from api.results import JobReads
from api.reviews import JobReviews
from api.routes import add_routes
from api.services import ApiServices
from tieout.bootstrap import Container


def create_app(
    container: Container,
    registry: CollectorRegistry = REGISTRY,
    limiter: RateLimiter | None = None,
) -> web.Application:
    """The API over `container`. `limiter` overrides the configured one (tests' clocks)."""
    tiers = parse_tiers(container.settings.rate_limits)
    app = web.Application(
        middlewares=[envelope, guard], client_max_size=container.settings.max_body_bytes
    )
    app[CONTAINER] = container
    app[METRICS] = registry
    app[HTTP_METRICS] = HttpMetrics.of(registry)
    app[SERVICES] = ApiServices(container)
    app[JOB_READS] = JobReads(container)
    app[JOB_REVIEWS] = JobReviews(container)
    app[OPENAPI] = openapi_document()
    app[LIMITS] = RateLimits(tiers, limiter or MemoryLimiter())
    app[LONG_CALLS] = asyncio.Semaphore(long_call_slots(container.settings.db_pool_size))
    app.on_response_prepare.append(stamp_headers)
    app.cleanup_ctx.append(bounded_executor)
    if limiter is None and container.settings.redis_url:
        app.cleanup_ctx.append(redis_limits)
    add_routes(app)
    return app


def long_call_slots(pool_size: int) -> int:
    """Reruns and diffs (seconds to minutes each) may take at most half the API's threads,
    so reads always find one. A thread cannot be stopped: one whose request timed out
    (503) keeps its slot until it ends, and further reruns wait for a slot within their
    own request timeout."""
    return max(1, pool_size // 2)


async def bounded_executor(app: web.Application) -> AsyncIterator[None]:
    """Threads for the synchronous application, no more than database connections (ADR 0002)."""
    size = app[CONTAINER].settings.db_pool_size
    executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="tieout-api")
    asyncio.get_running_loop().set_default_executor(executor)
    yield
    executor.shutdown(wait=True)


async def redis_limits(app: web.Application) -> AsyncIterator[None]:
    """Rate-limit buckets shared through Redis (TIEOUT_REDIS_URL), opened with the app. The
    API starts and stays up without Redis: it limits in process meanwhile (`FallbackLimiter`)."""
    url = app[CONTAINER].settings.redis_url
    assert url is not None  # noqa: S101 - added only when set
    limiter = shared_limiter(url, app[METRICS])
    limits = app[LIMITS]
    app[LIMITS] = RateLimits(limits.tiers, limiter)
    yield
    await limiter.close()
