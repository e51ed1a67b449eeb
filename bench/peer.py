"""The peer: what a user would write instead of the pipeline.

A sequential loop: fetch each feed with httpx, parse it with feedparser, fetch every entry's
page and extract it with ``trafilatura.extract`` (default options). One connection pool is
reused (httpx.Client), which is already kinder to the loop than ``httpx.get`` per page. It
runs over the first feeds of the workload only and is extrapolated: the loop is linear.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import feedparser
import httpx
import trafilatura


def sequential_loop(feed_urls: Sequence[str]) -> tuple[int, float]:
    """(articles handled, seconds)."""
    started = time.perf_counter()
    articles = 0
    with httpx.Client(timeout=30, follow_redirects=True, trust_env=False) as client:
        for feed_url in feed_urls:
            feed = feedparser.parse(client.get(feed_url).content)
            for entry in feed.entries:
                response = client.get(entry.link)
                trafilatura.extract(response.text, url=str(response.url))
                articles += 1
    return articles, time.perf_counter() - started
