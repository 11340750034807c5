"""Prometheus metrics: HTTP requests by route template, and jobs read from the database."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.jobs.stats import Histogram as JobHistogram
from app.jobs.stats import JobStatistics

HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class HttpMetrics:
    """Request count and latency per method, route template and status code."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "trainyard_http_requests",
            "HTTP requests by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "trainyard_http_request_duration_seconds",
            "HTTP request latency by method and route template.",
            ["method", "route"],
            buckets=HTTP_BUCKETS,
            registry=self.registry,
        )
        self._series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def series(self, method: str, route: str, status: int) -> tuple[Counter, Histogram]:
        """The request counter and latency histogram of one label set, looked up once: a
        ``labels()`` call checks and joins its values under a lock on every request. The keys
        are few (a route is its template, an unmatched path is one label)."""
        key = (method, route, status)
        found = self._series.get(key)
        if found is None:
            found = self._series[key] = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
        return found


def route_template(scope: Scope, status: int) -> str:
    """The route's path template; never the raw URL, so the label set stays small."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    # A 404 is one label, not one per URL a scanner tries; mounted static files are "other".
    return "unmatched" if status == 404 else "other"


class MetricsMiddleware:
    """Pure ASGI, so streaming responses and background tasks are left alone."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            elapsed = time.perf_counter() - start
            count, latency = self.metrics.series(
                scope.get("method", ""), route_template(scope, status), status
            )
            count.inc()
            latency.observe(elapsed)


def _histogram_family(
    name: str, documentation: str, values: dict[tuple[str, ...], JobHistogram], labels: list[str]
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, documentation, labels=labels)
    for label_values, histogram in values.items():
        buckets: list[tuple[str, float]] = [
            (_le(bound), float(count))
            for bound, count in zip(histogram.buckets, histogram.cumulative, strict=True)
        ]
        buckets.append(("+Inf", float(histogram.count)))
        family.add_metric(list(label_values), buckets, histogram.sum)
    return family


def _le(bound: float) -> str:
    return repr(float(bound))


class JobCollector(Collector):
    def __init__(self, stats: JobStatistics) -> None:
        self.stats = stats

    def collect(self) -> Any:
        jobs = GaugeMetricFamily(
            "trainyard_jobs", "Training jobs by status, from the database.", labels=["status"]
        )
        for status, count in sorted(self.stats.jobs_by_status.items()):
            jobs.add_metric([status], count)
        yield jobs
        yield _histogram_family(
            "trainyard_job_queue_wait_seconds",
            "Time from submission (or requeue) to the start of the latest attempt.",
            {(): self.stats.queue_wait},
            [],
        )
        yield _histogram_family(
            "trainyard_job_run_duration_seconds",
            "Time from the start of the latest attempt to the end, by final status.",
            {(status,): h for status, h in sorted(self.stats.run_duration.items())},
            ["status"],
        )


def render(http: HttpMetrics, stats: JobStatistics) -> bytes:
    """The Prometheus text exposition of both sets."""
    jobs = CollectorRegistry(auto_describe=False)
    jobs.register(JobCollector(stats))
    return generate_latest(http.registry) + generate_latest(jobs)
