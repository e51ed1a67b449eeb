"""The daemon as operators run it: a real `pipeline run` process, stopped with SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, text

from pipeline.core.config import load_config
from tests.site import Page, Site, article_html, rss
from tests.test_ingest_e2e import NDC_STORY

ARTICLES = 30


def slow_site(site: Site) -> None:
    """A feed of 30 articles; every page takes a moment, so SIGTERM lands mid-run."""
    items = []
    for number in range(ARTICLES):
        paragraphs = [f"Report number {number}. ", *NDC_STORY]
        site.add(f"/a/{number}", Page(article_html(f"Report {number}", paragraphs)))
        items.append({"title": f"Report {number}", "link": site.url(f"/a/{number}")})
    site.add("/feed.xml", Page(rss(items), content_type="application/rss+xml"))


def start_daemon(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline", "--config", str(config), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)},
    )


def consistent_counts(url: str) -> tuple[int, int, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            articles = connection.execute(text("SELECT COUNT(*) FROM article")).scalar_one()
            # Every stored article of this feed names NDC: it must have its story's flag.
            unflagged = connection.execute(
                text(
                    "SELECT COUNT(*) FROM story s WHERE NOT EXISTS "
                    "(SELECT 1 FROM flag f WHERE f.story_id = s.id)"
                )
            ).scalar_one()
            orphan_flags = connection.execute(
                text(
                    "SELECT COUNT(*) FROM flag f WHERE NOT EXISTS "
                    "(SELECT 1 FROM article a WHERE a.id = f.article_id)"
                )
            ).scalar_one()
            if url.startswith("sqlite"):
                (check,) = connection.execute(text("PRAGMA integrity_check")).one()
                assert check == "ok"
    finally:
        engine.dispose()
    return articles, unflagged, orphan_flags


def test_sigterm_mid_run_exits_cleanly_and_leaves_consistent_data(
    site: Site, make_config: Callable[..., Path]
) -> None:
    slow_site(site)
    config = make_config(
        [{"name": "Slow", "url": site.url("/feed.xml")}],
        fetch={"per_host": 1},
        schedule={"tick": "1s"},
    )
    daemon = start_daemon(config)
    deadline = time.monotonic() + 60
    while len(site.hits("/feed.xml")) == 0 or len(site.requests) < 5:
        assert daemon.poll() is None, daemon.communicate()
        assert time.monotonic() < deadline, "the daemon never polled"
        time.sleep(0.05)
    daemon.send_signal(signal.SIGTERM)
    _out, err = daemon.communicate(timeout=60)

    assert daemon.returncode == 0, err
    articles, unflagged, orphans = consistent_counts(load_config(config).database)
    assert 0 < articles <= ARTICLES
    assert (unflagged, orphans) == (0, 0)

    # A restart picks up what the interrupted poll did not reach.
    rerun = subprocess.run(
        [sys.executable, "-m", "pipeline", "--config", str(config), "run", "--once"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)},
    )
    assert rerun.returncode == 0, rerun.stderr
    assert consistent_counts(load_config(config).database) == (ARTICLES, 0, 0)
