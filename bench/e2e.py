"""End to end: ``pipeline run --once`` over the whole workload, from an empty SQLite database."""

from __future__ import annotations

import sqlite3
import statistics
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.harness import PYTHON, Server, run_measured, write_config
from bench.workload import Workload


def run_once(server: Server, workload: Workload, scratch: Path, name: str) -> dict[str, Any]:
    """One measured run; returns its figures and what ended up in the database."""
    folder = scratch / name
    folder.mkdir(parents=True)
    database = folder / "pipeline.db"
    feeds = [workload.feed_url(f) for f in range(workload.feeds)]
    config = write_config(folder / "feeds.yaml", database, feeds)
    server.stats(reset=True)
    run = run_measured([PYTHON, "-m", "pipeline", "--config", str(config), "run", "--once"])
    if run.returncode != 0:
        raise SystemExit(f"bench: pipeline run --once failed ({run.returncode}):\n{run.stderr}")
    requests = server.stats()
    figures = asdict(run)
    del figures["stdout"], figures["stderr"], figures["rss_samples"]
    figures["articles_per_second"] = workload.articles / run.seconds
    figures["requests"] = requests
    figures["database"] = database_counts(database)
    figures["rss_samples"] = run.rss_samples
    return figures


def main_growth_kb_per_article(run: dict[str, Any], articles: int) -> float | None:
    """How fast the main process's RSS grows once warm, per article: the slope of its samples
    over the last three quarters of the run (the first holds start-up and the first pages),
    at the run's mean rate of articles."""
    samples = [(at, mb) for at, mb in run["rss_samples"] if at >= run["seconds"] / 4]
    if len(samples) < 10:
        return None
    slope_mb_per_second = statistics.linear_regression(*zip(*samples, strict=True)).slope
    return 1024 * slope_mb_per_second / (articles / run["seconds"])


def database_counts(database: Path) -> dict[str, int]:
    with sqlite3.connect(database) as connection:

        def count(query: str) -> int:
            return int(connection.execute(query).fetchone()[0])

        return {
            "articles": count("SELECT count(*) FROM article"),
            "duplicates": count("SELECT count(*) FROM article WHERE duplicate_of IS NOT NULL"),
            "page_text": count("SELECT count(*) FROM article WHERE text_source = 'page'"),
            "stories": count("SELECT count(*) FROM story"),
            "flags": count("SELECT count(*) FROM flag"),
            "poll_errors": count("SELECT coalesce(sum(errors), 0) FROM fetch_attempt"),
        }


def expected_counts(workload: Workload) -> dict[str, int]:
    entries = list(workload.entries())
    return {
        "articles": sum(entry.kind != "tracking" for entry in entries),
        "duplicates": sum(entry.kind == "syndicated" for entry in entries),
    }
