"""DNS and TLS failures, with no real DNS: through the fetcher's error mapping (transports
that raise what httpx, httpcore or the ssl and socket modules raise), end to end with such a
transport behind the real daemon, and a real TLS handshake failure on loopback.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipeline.core.config import FetchSettings
from pipeline.core.errors import NetworkError
from pipeline.fetch.client import Fetcher
from tests.conftest import run_once
from tests.faults.hostile import plaintext_server, respond, serve
from tests.faults.support import (
    RSS_TYPE,
    SUMMARY,
    add_healthy_feed,
    assert_consistent,
    assert_healthy_feed_ingested,
    feed_state,
    rows,
    rss_document,
    rss_item,
    write_config,
)

DNS_FAILURE = "dns-failure.invalid"  # .invalid never resolves, and is never looked up here
TLS_FAILURE = "tls-failure.invalid"

ERRORS: dict[str, Callable[[httpx.Request], BaseException]] = {
    "httpx-connect-error-dns": lambda request: httpx.ConnectError(
        "[Errno -2] Name or service not known", request=request
    ),
    "httpx-connect-error-tls": lambda request: httpx.ConnectError(
        "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed", request=request
    ),
    "socket-gaierror": lambda _request: socket.gaierror(-2, "Name or service not known"),
    "ssl-cert-verification": lambda _request: ssl.SSLCertVerificationError(
        1, "certificate verify failed: self-signed certificate"
    ),
    "ssl-error": lambda _request: ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version"),
    "connection-reset": lambda _request: ConnectionResetError(104, "Connection reset by peer"),
    "network-unreachable": lambda _request: OSError(101, "Network is unreachable"),
}


@pytest.mark.parametrize("error", ERRORS)
def test_transport_errors_become_network_errors(error: str) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise ERRORS[error](request)

    async def fetch() -> None:
        settings = FetchSettings(allow_private_addresses=True)
        async with Fetcher(settings, transport=httpx.MockTransport(fail)) as fetcher:
            await fetcher.fetch(f"https://{DNS_FAILURE}/feed.xml")

    with pytest.raises(NetworkError) as raised:
        asyncio.run(fetch())
    assert raised.value.url == f"https://{DNS_FAILURE}/feed.xml"


class FailingHosts(httpx.AsyncBaseTransport):
    """The real transport, except for two host names: one fails as DNS, one as TLS."""

    def __init__(self) -> None:
        self._real = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == DNS_FAILURE:
            raise httpx.ConnectError("[Errno -2] Name or service not known", request=request)
        if request.url.host == TLS_FAILURE:
            raise ssl.SSLCertVerificationError(1, "certificate verify failed: self-signed")
        return await self._real.handle_async_request(request)

    async def aclose(self) -> None:
        await self._real.aclose()


def test_dns_and_tls_failures_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def fetcher_with_failing_hosts(settings: FetchSettings, **_: Any) -> Fetcher:
        return Fetcher(settings, transport=FailingHosts())

    monkeypatch.setattr("pipeline.poll.scheduler.Fetcher", fetcher_with_failing_hosts)
    caplog.set_level(logging.INFO, logger="pipeline")
    with serve() as server, plaintext_server() as plain_port:
        links = [f"https://{TLS_FAILURE}/article", f"http://{DNS_FAILURE}/article"]
        items = [
            rss_item(link, f"t{n}").replace(SUMMARY, f"{n}: {SUMMARY}")
            for n, link in enumerate(links)
        ]
        server.route("/feed.xml", respond(rss_document(items), content_type=RSS_TYPE))
        feeds = [
            add_healthy_feed(server),
            {"name": "dns", "url": f"http://{DNS_FAILURE}/feed.xml"},
            {"name": "tls", "url": f"https://{TLS_FAILURE}/feed.xml"},
            {"name": "tls on loopback", "url": f"https://127.0.0.1:{plain_port}/feed.xml"},
            {"name": "articles", "url": server.url("/feed.xml")},
        ]
        config = write_config(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", feeds)

        run_once(config)

    assert "Name or service not known" in feed_state(config, "dns")["last_error"]
    assert feed_state(config, "dns")["last_error"].startswith("NetworkError: ")
    assert "SSLCertVerificationError" in feed_state(config, "tls")["last_error"]
    assert "WRONG_VERSION_NUMBER" in feed_state(config, "tls on loopback")["last_error"]
    stored = sorted(
        rows(config, "SELECT url, text_source FROM article WHERE url LIKE :p", p="%.invalid%")
    )
    assert stored == [(link, "feed") for link in sorted(links)]
    fallbacks = [
        r.getMessage() for r in caplog.records if "using the feed's text" in r.getMessage()
    ]
    assert len([m for m in fallbacks if "NetworkError" in m]) == 2
    assert_healthy_feed_ingested(config)
    assert_consistent(config)


def test_guard_dns_failure_is_a_network_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """With the guard on, an article host is resolved before any request: a failing lookup
    (stubbed: no real DNS) is recorded and the article keeps the feed's text."""
    looked_up: list[str] = []

    async def failing_getaddrinfo(_loop: object, host: str, *_args: object, **_kw: object) -> Any:
        looked_up.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(asyncio.BaseEventLoop, "getaddrinfo", failing_getaddrinfo)
    caplog.set_level(logging.INFO, logger="pipeline")
    with serve() as server:
        link = f"http://{DNS_FAILURE}/article"
        server.route("/feed.xml", respond(rss_document([rss_item(link)]), content_type=RSS_TYPE))
        config = write_config(
            tmp_path,
            f"sqlite:///{tmp_path / 'db.sqlite'}",
            [{"name": "articles", "url": server.url("/feed.xml")}],
            fetch={"allow_private_addresses": False},
        )
        run_once(config)

    assert looked_up == [DNS_FAILURE]
    assert rows(config, "SELECT url, text_source FROM article") == [(link, "feed")]
    assert any(
        f"NetworkError: cannot resolve {DNS_FAILURE}" in record.getMessage()
        for record in caplog.records
    )
    assert_consistent(config)
