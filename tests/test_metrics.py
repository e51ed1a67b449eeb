"""Prometheus metrics after a real run: the database-wide exposition of `render_metrics` and
the worker's own registry served on 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import httpx
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from pipeline.cli.app import app
from pipeline.core.config import load_config
from pipeline.ops.metrics import WORKER_REGISTRY, render_metrics, serve_worker_metrics
from storage.db import Database
from storage.repository import Repository
from tests.conftest import run_once
from tests.site import Page, Site, article_html, rss
from tests.test_ingest_e2e import NDC_STORY

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(exposition: str) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def extraction_count() -> float:
    samples = parse(generate_latest(WORKER_REGISTRY).decode())
    return samples.get(("pipeline_extraction_seconds_count", ()), 0.0)


def test_metrics_after_a_real_run(site: Site, make_config: Callable[..., Path]) -> None:
    site.add("/ndc", Page(article_html("US sanctions Pakistani missile body", NDC_STORY)))
    site.add("/copy", Page(article_html("Missile body sanctioned", NDC_STORY)))
    items = [
        {"title": "US sanctions Pakistani missile body", "link": site.url("/ndc")},
        {"title": "Missile body sanctioned", "link": site.url("/copy")},
    ]
    site.add("/feed.xml", Page(rss(items), content_type="application/rss+xml"))
    config = make_config(
        [
            {"name": "Good", "url": site.url("/feed.xml")},
            {"name": "Missing", "url": site.url("/missing.xml")},  # 404
        ]
    )
    extracted_before = extraction_count()

    run_once(config)

    db = Database(load_config(config).database)
    try:
        body, content_type = render_metrics(Repository(db))
    finally:
        db.dispose()
    assert content_type.startswith("text/plain")
    samples = parse(body.decode())
    assert samples[("pipeline_polls_total", (("outcome", "ok"),))] == 1
    assert samples[("pipeline_polls_total", (("outcome", "error"),))] == 1
    assert samples[("pipeline_poll_errors_total", (("kind", "HTTPStatusError"),))] == 1
    assert samples[("pipeline_articles_total", ())] == 2
    assert samples[("pipeline_duplicates_total", ())] == 1
    assert samples[("pipeline_flags", (("status", "new"),))] >= 2
    assert samples[("pipeline_flags", (("status", "dismissed"),))] == 0
    assert samples[("pipeline_feeds", (("status", "ok"),))] == 2  # failing after 5 errors
    good_lag = samples[("pipeline_feed_lag_seconds", (("feed", "Good"),))]
    missing_lag = samples[("pipeline_feed_lag_seconds", (("feed", "Missing"),))]
    assert 0 <= good_lag < 60 and 0 <= missing_lag < 60
    assert not any(name == "pipeline_alert_deliveries" for name, _ in samples)  # none configured
    # Both pages went through the extractor of this process.
    assert extraction_count() - extracted_before == 2


def test_worker_metrics_are_served_on_loopback() -> None:
    server, thread = serve_worker_metrics(0)
    try:
        port = server.server_address[1]
        response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert response.status_code == 200
    names = {family.name for family in text_string_to_metric_families(response.text)}
    assert {"pipeline_extraction_seconds", "process_cpu_seconds"} <= names


def test_run_refuses_a_metrics_port_in_use(make_config: Callable[..., Path]) -> None:
    config = make_config([])
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            app, ["--config", str(config), "run", "--once", "--metrics-port", str(port)]
        )
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: cannot serve metrics on 127.0.0.1:{port}")
