"""Prometheus metrics, two sources:

- ``render_metrics(repository)``: database-wide figures, read at scrape time by a custom
  collector over a fresh registry (``/metrics`` of ``pipeline serve``): every worker's polls,
  errors, articles, flags and deliveries, whichever process did the work;
- ``WORKER_REGISTRY``: what only a worker process knows (how long extraction took), exposed by
  ``pipeline run --metrics-port N`` on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from threading import Thread
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Histogram, ProcessCollector, start_http_server
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from pipeline.core.clock import utcnow
from storage.repository import Repository

# Process-level on purpose: the histogram lives as long as the worker process, like the
# extractions it counts (the database keeps no durations).
WORKER_REGISTRY = CollectorRegistry()
EXTRACTION_SECONDS = Histogram(
    "pipeline_extraction_seconds",
    "Seconds one page spent in extraction (waiting for a worker included).",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=WORKER_REGISTRY,
)
ProcessCollector(registry=WORKER_REGISTRY)  # the worker's CPU, memory, open files


class DatabaseCollector(Collector):
    """Reads one snapshot of the database per scrape."""

    def __init__(self, repository: Repository, clock: Callable[[], datetime] = utcnow) -> None:
        self.repository = repository
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        snapshot = self.repository.metrics_snapshot(self.clock())
        polls = CounterMetricFamily("pipeline_polls", "Feed polls by outcome.", labels=["outcome"])
        for outcome, count in sorted(snapshot.polls_by_outcome.items()):
            polls.add_metric([outcome], count)
        yield polls
        errors = CounterMetricFamily(
            "pipeline_poll_errors", "Failed feed polls by error kind.", labels=["kind"]
        )
        for kind, count in sorted(snapshot.errors_by_kind.items()):
            errors.add_metric([kind], count)
        yield errors
        feeds = GaugeMetricFamily("pipeline_feeds", "Feeds by status.", labels=["status"])
        for status, count in sorted(snapshot.feeds_by_status.items()):
            feeds.add_metric([status], count)
        yield feeds
        yield CounterMetricFamily("pipeline_articles", "Stored articles.", value=snapshot.articles)
        yield CounterMetricFamily(
            "pipeline_duplicates",
            "Stored articles that joined an earlier story.",
            value=snapshot.duplicates,
        )
        flags = GaugeMetricFamily("pipeline_flags", "Flags by review status.", labels=["status"])
        for status, count in snapshot.flags_by_status.items():
            flags.add_metric([status], count)
        yield flags
        lag = GaugeMetricFamily(
            "pipeline_feed_lag_seconds",
            "Seconds since the feed's last successful poll (since it was added if none).",
            labels=["feed"],
        )
        for feed, seconds in sorted(snapshot.feed_lag_seconds.items()):
            lag.add_metric([feed], seconds)
        yield lag
        deliveries = GaugeMetricFamily(
            "pipeline_alert_deliveries",
            "Alert deliveries by channel and status.",
            labels=["channel", "status"],
        )
        for (channel, status), count in sorted(snapshot.deliveries.items()):
            deliveries.add_metric([channel, status], count)
        yield deliveries


def render_metrics(repository: Repository) -> tuple[bytes, str]:
    """The database-wide figures in the Prometheus text format, and its content type."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(repository))
    return generate_latest(registry), CONTENT_TYPE_LATEST


def serve_worker_metrics(port: int, addr: str = "127.0.0.1") -> tuple[WSGIServer, Thread]:
    """Expose this worker's own registry (a daemon thread); port 0 picks a free port."""
    return start_http_server(port, addr=addr, registry=WORKER_REGISTRY)
