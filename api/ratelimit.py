"""Tiered rate limits: a token bucket per (tier, principal).

A tier allows `count` requests per `seconds`, refilled continuously, with bursts up to
`count`. In process by default (`MemoryLimiter`); with TIEOUT_REDIS_URL every API process
shares the buckets through one Lua script (`RedisLimiter`), which reads and writes a
bucket atomically, and falls back to its own buckets while Redis fails
(`FallbackLimiter`). Each takes the time from a clock it is given, so tests control it.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from prometheus_client import Counter
from prometheus_client.registry import CollectorRegistry

from engine.errors import BadInputError

logger = logging.getLogger(__name__)

Clock = Callable[[], float]
TIERS = ("login", "jobs", "uploads", "reads", "writes")


@dataclass(frozen=True)
class Tier:
    name: str
    count: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.count / self.seconds


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: float
    """Until the bucket is full again."""
    retry_after_seconds: float
    """Until one more request would be allowed (0 when this one was)."""

    def headers(self) -> dict[str, str]:
        found = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(math.ceil(self.reset_seconds)),
        }
        if not self.allowed:
            found["Retry-After"] = str(max(1, math.ceil(self.retry_after_seconds)))
        return found


def parse_tiers(text: str) -> dict[str, Tier]:
    """`login=20/60,jobs=600/60,...` (TIEOUT_RATE_LIMITS); every tier must be given."""
    found: dict[str, Tier] = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        name, _, rate = part.partition("=")
        count, _, seconds = rate.partition("/")
        try:
            tier = Tier(name.strip(), int(count), float(seconds))
        except ValueError:
            raise BadInputError(f"TIEOUT_RATE_LIMITS: {part!r} is not tier=count/seconds") from None
        if tier.name not in TIERS or tier.count < 1 or tier.seconds <= 0:
            msg = f"TIEOUT_RATE_LIMITS: {part!r}: tiers are {', '.join(TIERS)}, counts >= 1"
            raise BadInputError(msg)
        found[tier.name] = tier
    missing = [name for name in TIERS if name not in found]
    if missing:
        raise BadInputError(f"TIEOUT_RATE_LIMITS: no limit for {', '.join(missing)}")
    return found


def decide(tier: Tier, tokens: float, allowed: bool) -> Decision:
    """The answer for a bucket holding `tokens` after this request's take."""
    return Decision(
        allowed=allowed,
        limit=tier.count,
        remaining=int(tokens),
        reset_seconds=(tier.count - tokens) / tier.rate,
        retry_after_seconds=0.0 if allowed else (1 - tokens) / tier.rate,
    )


class RateLimiter(Protocol):
    async def take(self, tier: Tier, key: str) -> Decision: ...

    async def close(self) -> None: ...


class MemoryLimiter:
    """Buckets in this process: (tokens, last refill time) per tier and key."""

    MAX_BUCKETS = 100_000  # full buckets are dropped beyond this: they hold no information

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}
        self._lock = threading.Lock()

    async def take(self, tier: Tier, key: str) -> Decision:
        return self.take_now(tier, key)

    def take_now(self, tier: Tier, key: str) -> Decision:
        now = self.clock()
        with self._lock:
            tokens, then = self._buckets.get((tier.name, key), (float(tier.count), now))
            tokens = min(float(tier.count), tokens + (now - then) * tier.rate)
            allowed = tokens >= 1
            if allowed:
                tokens -= 1
            if len(self._buckets) >= self.MAX_BUCKETS:
                self._forget_full(now)
            self._buckets[(tier.name, key)] = (tokens, now)
        return decide(tier, tokens, allowed)

    async def close(self) -> None:
        self._buckets.clear()

    def _forget_full(self, now: float) -> None:
        self._buckets = {
            bucket: (tokens, then)
            for bucket, (tokens, then) in self._buckets.items()
            if now - then < 3600  # noqa: PLR2004 - an hour idle refills any sane tier
        }


# KEYS[1]: the bucket; ARGV: capacity, rate per second, now (seconds). Returns
# {allowed (0/1), tokens after the take as a string}. The key expires once it would be full.
TAKE_SCRIPT = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate * 1000) + 1000)
return {allowed, tostring(tokens)}
"""


class RedisLimiter:
    """Buckets in Redis, shared by every API process (TIEOUT_REDIS_URL).

    The time comes from this process's clock (wall time by default), so API hosts need
    synchronized clocks, as they do for token expiry anyway.
    """

    def __init__(
        self, client: Any, clock: Clock = time.time, prefix: str = "tieout:ratelimit"
    ) -> None:
        self.client = client
        self.clock = clock
        self.prefix = prefix
        self._script = client.register_script(TAKE_SCRIPT)

    async def take(self, tier: Tier, key: str) -> Decision:
        bucket = f"{self.prefix}:{tier.name}:{key}"
        allowed, tokens = await self._script(
            keys=[bucket], args=[tier.count, repr(tier.rate), repr(self.clock())]
        )
        return decide(tier, float(tokens), bool(int(allowed)))

    async def close(self) -> None:
        await self.client.aclose()


REDIS_TIMEOUT_SECONDS = 0.5
"""Redis runs a bucket's script in well under a millisecond: a connection or an answer
slower than this is, for limiting, an outage (the request is limited in process)."""
RETRY_SHARED_SECONDS = 5.0
"""How long a process limits on its own after the shared store failed, before asking it
again: an outage costs one failed attempt per period, not one per request."""


class FallbackLimiter:
    """The shared buckets (Redis), or this process's own while the shared store fails.

    A rate limiter must not take the API down with it: answering every request with an
    error while Redis is unreachable would turn a limiter's outage into the API's. Letting
    every request through would drop the limits when they may matter most. So the process
    limits with its own buckets meanwhile (each client then gets a tier's budget per API
    process instead of one across them), logs a warning when it falls back and when the
    shared store answers again, and counts the requests it decided alone
    (`tieout_rate_limit_fallbacks_total`).
    """

    def __init__(
        self,
        shared: RateLimiter,
        local: RateLimiter,
        errors: tuple[type[Exception], ...],
        fallbacks: Counter,
        clock: Clock = time.monotonic,
        retry_seconds: float = RETRY_SHARED_SECONDS,
    ) -> None:
        self.shared = shared
        self.local = local
        self.errors = errors
        self.fallbacks = fallbacks
        self.clock = clock
        self.retry_seconds = retry_seconds
        self._retry_at: float | None = None
        """While falling back: when to ask the shared store again. None: it answers."""

    @property
    def falling_back(self) -> bool:
        return self._retry_at is not None

    async def take(self, tier: Tier, key: str) -> Decision:
        if self._retry_at is None or self.clock() >= self._retry_at:
            try:
                decision = await self.shared.take(tier, key)
            except self.errors as exc:
                self._fall_back(exc)
            else:
                if self._retry_at is not None:
                    logger.warning("rate limits: the shared store answers again; using it")
                    self._retry_at = None
                return decision
        self.fallbacks.inc()
        return await self.local.take(tier, key)

    async def close(self) -> None:
        await self.local.close()
        await self.shared.close()

    def _fall_back(self, exc: Exception) -> None:
        if self._retry_at is None:
            logger.warning(
                "rate limits: the shared store failed (%s: %s); limiting in this process, "
                "asking it again every %g s",
                type(exc).__name__,
                exc,
                self.retry_seconds,
            )
        self._retry_at = self.clock() + self.retry_seconds


def shared_limiter(
    url: str, registry: CollectorRegistry, clock: Clock | None = None
) -> FallbackLimiter:
    """Buckets shared through the Redis at `url` (TIEOUT_REDIS_URL), this process's own
    while it fails. One quick retry (a pooled connection Redis closed), then fall back.
    `clock` replaces every clock (tests); by default buckets in Redis use wall time."""
    from redis.asyncio import Redis  # noqa: PLC0415 - only when configured
    from redis.asyncio.retry import Retry  # noqa: PLC0415
    from redis.backoff import NoBackoff  # noqa: PLC0415
    from redis.exceptions import RedisError  # noqa: PLC0415

    client = Redis.from_url(
        url,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 1),
    )
    errors, counter = (RedisError, OSError), fallback_counter(registry)
    if clock is None:
        return FallbackLimiter(RedisLimiter(client), MemoryLimiter(), errors, counter)
    shared, local = RedisLimiter(client, clock), MemoryLimiter(clock)
    return FallbackLimiter(shared, local, errors, counter, clock)


_FALLBACKS: weakref.WeakKeyDictionary[CollectorRegistry, Counter] = weakref.WeakKeyDictionary()


def fallback_counter(registry: CollectorRegistry) -> Counter:
    """`tieout_rate_limit_fallbacks_total`, once per registry (apps may share one)."""
    found = _FALLBACKS.get(registry)
    if found is None:
        found = _FALLBACKS[registry] = Counter(
            "tieout_rate_limit_fallbacks_total",
            "API requests whose rate limit this process decided alone because the shared "
            "store (Redis) failed.",
            registry=registry,
        )
    return found


class RateLimits:
    """The configured tiers and the limiter that keeps their buckets."""

    def __init__(self, tiers: dict[str, Tier], limiter: RateLimiter) -> None:
        self.tiers = tiers
        self.limiter = limiter

    async def take(self, tier: str, key: str) -> Decision:
        return await self.limiter.take(self.tiers[tier], key)
