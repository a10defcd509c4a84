"""HTTP metrics: requests and latency by route template and status, requests in flight."""

from __future__ import annotations

import weakref
from typing import ClassVar

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.registry import CollectorRegistry

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class HttpMetrics:
    """One set per registry: `create_app` may be called more than once per process."""

    _by_registry: ClassVar[weakref.WeakKeyDictionary[CollectorRegistry, HttpMetrics]] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "tieout_http_requests_total",
            "API requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "tieout_http_request_duration_seconds",
            "API request handling time, by method, route template and status.",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.in_flight = Gauge(
            "tieout_http_requests_in_flight", "API requests being handled.", registry=registry
        )

    @classmethod
    def of(cls, registry: CollectorRegistry) -> HttpMetrics:
        found = cls._by_registry.get(registry)
        if found is None:
            found = cls._by_registry[registry] = cls(registry)
        return found
