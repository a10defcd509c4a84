"""Prometheus metrics. Job totals are computed from the queue table at scrape time.

Counting in the database (rather than in each process) keeps the counters right after
restarts and across any number of workers. The API (`tieout serve`) exports them; workers
export only what lives in their own process (the matcher's speed), so summing a job metric
over instances never counts a job twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import accumulate

from prometheus_client import REGISTRY, Gauge, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from engine.domain.job import STATUSES
from engine.errors import BadInputError
from engine.ports import JobQueue
from engine.worker.loop import Worker

DURATION_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)


class JobQueueCollector(Collector):
    """Job metrics read from `tieout_job_queue` on every scrape."""

    def __init__(self, queue: JobQueue) -> None:
        self.queue = queue

    def collect(self) -> Iterator[Metric]:
        stats = self.queue.stats(DURATION_BUCKETS)
        jobs = GaugeMetricFamily("tieout_jobs", "Jobs by status.", labels=["status"])
        for status in STATUSES:
            jobs.add_metric([status], stats.jobs_by_status.get(status, 0))
        yield jobs
        completed = stats.jobs_by_status.get("completed", 0)
        yield _counter("tieout_job_attempts", "Attempts started (claims).", stats.attempts)
        yield _counter("tieout_jobs_failed", "Failed attempts.", stats.failures)
        yield _counter("tieout_jobs_completed", "Completed jobs.", completed)
        yield _counter("tieout_dead_letters", "Jobs dead-lettered (ever).", stats.dead_letters)
        yield _counter(
            "tieout_lease_takeovers", "Leases taken over after a stall.", stats.takeovers
        )
        yield GaugeMetricFamily(
            "tieout_oldest_running_job_heartbeat_age_seconds",
            "Seconds since the stalest running lease was heartbeated (0: none running).",
            value=stats.oldest_heartbeat_age_seconds,
        )
        yield _duration(stats.duration_bucket_counts, stats.duration_sum_seconds)


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)


def _duration(counts: list[int], seconds: float) -> HistogramMetricFamily:
    bounds = [*(f"{bound:g}" for bound in DURATION_BUCKETS), "+Inf"]
    cumulative = list(accumulate(counts))
    return HistogramMetricFamily(
        "tieout_job_duration_seconds",
        "Run time of completed jobs' last attempt, claim to completion.",
        buckets=list(zip(bounds, cumulative, strict=True)),
        sum_value=seconds,
    )


def register_queue_metrics(
    queue: JobQueue, registry: CollectorRegistry = REGISTRY
) -> JobQueueCollector:
    collector = JobQueueCollector(queue)
    registry.register(collector)
    return collector


def register_worker_metrics(worker: Worker, registry: CollectorRegistry = REGISTRY) -> Gauge:
    gauge = Gauge(
        "tieout_matcher_rows_per_second",
        "Input rows per second of this process's latest match.",
        registry=registry,
    )
    gauge.set_function(lambda: worker.matcher_rows_per_second)
    return gauge


def serve_metrics(port: int, process: str) -> None:
    """Serve /metrics on `port` in a background thread (0: not at all).

    A port in use is a setting to change, not a crash: one line names the port, the likely
    owner and the variable to set.
    """
    if not port:
        return
    try:
        start_http_server(port)
    except OSError as error:
        msg = (
            f"metrics port {port}: {error.strerror} (another `tieout {process}` on this host?); "
            "set TIEOUT_METRICS_PORT to a free port, or 0 for no metrics"
        )
        raise BadInputError(msg) from None
