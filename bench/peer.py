"""The peer: what a user would write instead of the pipeline.

A sequential loop: fetch each feed with httpx, parse it with feedparser, fetch every entry's
page and extract it with ``trafilatura.extract`` (default options). One connection pool is
reused (httpx.Client), which is already kinder to the loop than ``httpx.get`` per page. It
runs over the first feeds of the workload only and is extrapolated: the loop is linear.
``how="pipeline"`` runs the pipeline's own extraction (``extract_page``, the chain) in the
same loop: the pipeline's speedup over that is its concurrency alone, the extractor's extra
cost set aside.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence

import feedparser
import httpx
import trafilatura


def sequential_loop(feed_urls: Sequence[str], how: str = "trafilatura") -> tuple[int, float]:
    """(articles handled, seconds)."""
    from pipeline.core.errors import ExtractionError
    from pipeline.extract.page import extract_page

    started = time.perf_counter()
    articles = 0
    with httpx.Client(timeout=30, follow_redirects=True, trust_env=False) as client:
        for feed_url in feed_urls:
            feed = feedparser.parse(client.get(feed_url).content)
            for entry in feed.entries:
                response = client.get(entry.link)
                if how == "pipeline":
                    with contextlib.suppress(ExtractionError):
                        extract_page(
                            response.content,
                            url=str(response.url),
                            content_type=response.headers.get("content-type"),
                        )
                else:
                    trafilatura.extract(response.text, url=str(response.url))
                articles += 1
    return articles, time.perf_counter() - started
