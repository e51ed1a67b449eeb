"""The address guard on, end to end, on loopback only (allow_private_addresses: false).

The feeds of feeds.yaml are trusted for their own host (127.0.0.1 here). Anything else that
resolves to a non-public address is refused before a connection is made: article links on
loopback (even on the feed's own host), and a trusted feed redirecting to another loopback
name. No request for them reaches the server; articles fall back to the feed's text.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.conftest import run_once
from tests.faults.hostile import redirect, respond, serve
from tests.faults.support import (
    RSS_TYPE,
    SUMMARY,
    assert_consistent,
    feed_state,
    rows,
    rss_document,
    rss_item,
    write_config,
)
from tests.site import article_html
from tests.test_ingest_e2e import NDC_STORY

# Other spellings of this machine; none of them is 127.0.0.1, the trusted feed host.
LOOPBACK_HOSTS = ["localhost", "127.0.0.2", "[::1]"]


def test_guard_refuses_loopback_articles_and_redirects(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pipeline")
    with serve() as server:
        page = respond(article_html("Missile body sanctioned", NDC_STORY))
        links = {
            host: server.url(f"/article/{index}", host) for index, host in enumerate(LOOPBACK_HOSTS)
        }
        links["feed host"] = server.url("/article/same-host")
        for link in links.values():
            server.route(link.split(str(server.port), 1)[1], page)
        items = [
            rss_item(link, f"article on {name}").replace(SUMMARY, f"{name}: {SUMMARY}")
            for name, link in links.items()
        ]
        server.route("/feed.xml", respond(rss_document(items), content_type=RSS_TYPE))
        server.route("/moved.xml", redirect(server.url("/feed.xml", "localhost"), 301))
        feeds = [
            {"name": "trusted", "url": server.url("/feed.xml")},
            {"name": "redirects to localhost", "url": server.url("/moved.xml")},
        ]
        config = write_config(
            tmp_path,
            f"sqlite:///{tmp_path / 'db.sqlite'}",
            feeds,
            fetch={"allow_private_addresses": False},
        )

        run_once(config)

        # The trusted feed itself was read, from its own host only.
        assert [request.host.rsplit(":", 1)[0] for request in server.requests] == [
            "127.0.0.1",
            "127.0.0.1",
        ]
        assert {request.path for request in server.requests} == {"/feed.xml", "/moved.xml"}

    stored = dict(rows(config, "SELECT url, text_source FROM article"))
    assert stored == dict.fromkeys(links.values(), "feed")
    messages = [record.getMessage() for record in caplog.records]
    refusals = [m for m in messages if m.startswith("using the feed's text: AddressRefusedError")]
    assert len(refusals) == len(links)
    assert any(
        "localhost resolves to 127.0.0.1, a loopback address: refused" in r for r in refusals
    )
    assert any("::1 resolves to ::1, a loopback address" in r for r in refusals)

    moved = feed_state(config, "redirects to localhost")
    assert moved["last_error"].startswith("AddressRefusedError: localhost resolves to")
    assert feed_state(config, "trusted")["last_error"] is None
    assert_consistent(config)
