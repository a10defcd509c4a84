"""Rate tiers: token buckets per principal with X-RateLimit-* headers, 429 and Retry-After,
refilled as the (hand-moved) clock advances; in process and shared through Redis."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from api_helpers import Client, Clock, bearer, user_token
from prometheus_client.registry import CollectorRegistry
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from api.app import create_app
from api.ratelimit import MemoryLimiter, RateLimiter, RedisLimiter, Tier, parse_tiers
from engine.domain.org import Role
from engine.errors import BadInputError
from tieout.bootstrap import Container

REDIS_URL = os.environ.get("TIEOUT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
LIMITS = "login=5/60,jobs=3/60,uploads=2/60,reads=4/60,writes=3/60"


@pytest.fixture
async def redis_limiter(clock: Clock) -> AsyncIterator[RedisLimiter]:
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (RedisConnectionError, OSError) as exc:
        await client.aclose()
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is not reachable at {REDIS_URL} under CI: {exc}")
        pytest.skip(f"no Redis at {REDIS_URL}")
    limiter = RedisLimiter(client, clock)
    limiter.prefix = f"tieout:test:{uuid.uuid4().hex}"
    yield limiter
    await limiter.close()


async def limited_client(container: Container, limiter: RateLimiter, aiohttp_client: Any) -> Client:
    container.settings.rate_limits = LIMITS
    found: Client = await aiohttp_client(create_app(container, CollectorRegistry(), limiter))
    return found


async def check_reads_tier(client: Client, container: Container, clock: Clock) -> None:
    ann = bearer(user_token(container, "ann@acme.test", Role.ADMIN))
    bob = bearer(user_token(container, "bob@acme.test", Role.ADMIN))
    answers = [await client.get("/api/projects", headers=ann) for _ in range(5)]
    assert [answer.status for answer in answers] == [200, 200, 200, 200, 429]
    assert [answer.headers["X-RateLimit-Remaining"] for answer in answers[:4]] == [
        "3",
        "2",
        "1",
        "0",
    ]
    assert answers[0].headers["X-RateLimit-Limit"] == "4"
    limited = answers[-1]
    assert limited.content_type == "application/problem+json"
    assert limited.headers["Retry-After"] == "15"  # one token per 15 s
    assert int(limited.headers["X-RateLimit-Reset"]) == 60
    assert (await client.get("/api/projects", headers=bob)).status == 200  # per principal
    assert (await client.post("/api/projects", json={"name": "p"}, headers=ann)).status == 201
    clock.now += 15
    assert (await client.get("/api/projects", headers=ann)).status == 200
    assert (await client.get("/api/projects", headers=ann)).status == 429
    assert (await client.get("/api/health")).status == 200  # public routes are not limited


async def test_in_process_buckets(container: Container, clock: Clock, aiohttp_client: Any) -> None:
    client = await limited_client(container, MemoryLimiter(clock), aiohttp_client)
    await check_reads_tier(client, container, clock)


async def test_buckets_shared_through_redis(
    container: Container, clock: Clock, aiohttp_client: Any, redis_limiter: RedisLimiter
) -> None:
    client = await limited_client(container, redis_limiter, aiohttp_client)
    await check_reads_tier(client, container, clock)
    other_process = RedisLimiter(Redis.from_url(REDIS_URL), clock)
    other_process.prefix = redis_limiter.prefix
    tier = Tier("uploads", 2, 60)
    await redis_limiter.take(tier, "svc")
    await other_process.take(tier, "svc")
    third = await other_process.take(tier, "svc")
    assert (third.allowed, third.remaining, third.retry_after_seconds) == (False, 0, 30.0)
    await other_process.close()


def test_tiers_are_parsed_strictly() -> None:
    assert parse_tiers(LIMITS)["reads"] == Tier("reads", 4, 60.0)
    for bad in ("reads=4/60", LIMITS + ",bogus=1/1", LIMITS.replace("4/60", "x/60")):
        with pytest.raises(BadInputError, match="TIEOUT_RATE_LIMITS"):
            parse_tiers(bad)


async def test_the_app_shares_buckets_through_redis_when_configured(
    container: Container, aiohttp_client: Any, redis_limiter: RedisLimiter
) -> None:
    del redis_limiter  # only its check that Redis answers (a failure under CI)
    container.settings.rate_limits = LIMITS
    container.settings.redis_url = REDIS_URL
    first: Client = await aiohttp_client(create_app(container, CollectorRegistry()))
    second: Client = await aiohttp_client(create_app(container, CollectorRegistry()))
    email = f"{uuid.uuid4().hex[:12]}@acme.test"  # a fresh bucket whatever ran before
    headers = bearer(user_token(container, email, Role.ADMIN))
    statuses = [
        (await client.get("/api/projects", headers=headers)).status
        for client in (first, second, first, second, first)
    ]
    assert statuses == [200, 200, 200, 200, 429]  # one budget of 4 across both apps
