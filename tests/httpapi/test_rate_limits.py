"""Rate tiers: token buckets per principal with X-RateLimit-* headers, 429 and Retry-After,
refilled as the (hand-moved) clock advances; in process and shared through Redis; in
process again, logged and counted, while Redis is unreachable."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from api_helpers import Client, Clock, bearer, user_token
from prometheus_client.registry import CollectorRegistry
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from api.app import create_app
from api.ratelimit import (
    MemoryLimiter,
    RateLimiter,
    RedisLimiter,
    Tier,
    parse_tiers,
    shared_limiter,
)
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def test_an_unreachable_redis_leaves_the_api_up_limiting_in_process(
    container: Container, aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing listens at the configured Redis: the app starts, every request is limited
    by this process's buckets (headers and 429 as usual), with one warning and a count."""
    container.settings.rate_limits = LIMITS
    container.settings.redis_url = f"redis://127.0.0.1:{free_port()}/0"
    registry = CollectorRegistry()
    client: Client = await aiohttp_client(create_app(container, registry))
    headers = bearer(user_token(container, "ann@acme.test", Role.ADMIN))
    with caplog.at_level(logging.WARNING, logger="api.ratelimit"):
        answers = [await client.get("/api/projects", headers=headers) for _ in range(5)]
    assert [answer.status for answer in answers] == [200, 200, 200, 200, 429]
    assert answers[0].headers["X-RateLimit-Remaining"] == "3"
    assert registry.get_sample_value("tieout_rate_limit_fallbacks_total") == 5
    failed = [record for record in caplog.records if "shared store failed" in record.message]
    assert len(failed) == 1  # once per outage, not once per request
    assert "tieout_rate_limit_fallbacks_total 5.0" in await (await client.get("/metrics")).text()


class Proxy:
    """A TCP relay to Redis that the test can take away (every connection closed, nothing
    listening) and bring back on the same port: Redis going away under a running API."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.close()
        await self.server.wait_closed()
        self.writers.clear()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        self.writers |= {writer, upstream_writer}
        await asyncio.gather(
            self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer)
        )

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()


async def test_limits_fall_back_while_redis_is_gone_and_return_to_it(
    clock: Clock, redis_limiter: RedisLimiter, caplog: pytest.LogCaptureFixture
) -> None:
    """The real Redis behind a relay: shared buckets; the relay closes every connection and
    stops listening: buckets in process, Redis asked again only after a pause; the relay
    comes back: the shared buckets again, where they were left."""
    del redis_limiter  # only its check that Redis answers (a failure under CI)
    parts = urlsplit(REDIS_URL)
    proxy = Proxy((parts.hostname or "127.0.0.1", parts.port or 6379))
    await proxy.start()
    registry = CollectorRegistry()
    limiter = shared_limiter(f"redis://127.0.0.1:{proxy.port}{parts.path}", registry, clock)
    assert isinstance(limiter.shared, RedisLimiter)
    limiter.shared.prefix = f"tieout:test:{uuid.uuid4().hex}"
    tier, fallbacks = Tier("reads", 4, 60), "tieout_rate_limit_fallbacks_total"
    try:
        assert [(await limiter.take(tier, "svc")).remaining for _ in range(2)] == [3, 2]
        await proxy.stop()
        with caplog.at_level(logging.WARNING, logger="api.ratelimit"):
            alone = [await limiter.take(tier, "svc") for _ in range(5)]
        assert [decision.allowed for decision in alone] == [True] * 4 + [False]
        assert limiter.falling_back
        assert registry.get_sample_value(fallbacks) == 5
        await proxy.start()
        clock.now += 3  # within the pause: Redis is not asked yet
        assert not (await limiter.take(tier, "svc")).allowed
        assert registry.get_sample_value(fallbacks) == 6
        clock.now += 3  # 6 s after the failure, 6 s of refill at 4 per minute
        back = await limiter.take(tier, "svc")
        assert (back.allowed, back.remaining) == (True, 1)  # 2 left + 0.4 refilled - 1
        assert not limiter.falling_back
        assert registry.get_sample_value(fallbacks) == 6
        messages = [record.message for record in caplog.records]
        assert sum("shared store failed" in message for message in messages) == 1
        assert sum("answers again" in message for message in messages) == 1
    finally:
        await limiter.close()
        await proxy.stop()
