"""Typed keys for what the application and each request carry (aiohttp's AppKey/RequestKey)."""

from __future__ import annotations

import asyncio

from aiohttp import web
from prometheus_client.registry import CollectorRegistry

from api.metrics import HttpMetrics
from api.ratelimit import RateLimits
from api.results import JobReads
from api.reviews import JobReviews
from api.services import ApiServices
from engine.tenancy import Principal
from tieout.bootstrap import Container

CONTAINER = web.AppKey("container", Container)
METRICS = web.AppKey("metrics", CollectorRegistry)
HTTP_METRICS = web.AppKey("http_metrics", HttpMetrics)
SERVICES = web.AppKey("services", ApiServices)
JOB_READS = web.AppKey("job_reads", JobReads)
JOB_REVIEWS = web.AppKey("job_reviews", JobReviews)
LIMITS = web.AppKey("limits", RateLimits)
OPENAPI = web.AppKey("openapi", dict)
LONG_CALLS = web.AppKey("long_calls", asyncio.Semaphore)  # reruns and diffs running at once

REQUEST_ID = web.RequestKey("request_id", str)
PRINCIPAL = web.RequestKey("principal", Principal)
CLIENT_GONE = web.RequestKey("client_gone", bool)  # the client closed the connection mid-answer
RATE_LIMIT = web.RequestKey("rate_limit", dict)  # the X-RateLimit-* headers of its tier
