"""pipeline.fetch.client against real loopback servers.

pytest-httpserver (bound to 127.0.0.1) for well-behaved answers; a raw socket server for
misbehaviour (dripping, stalling, resetting, endless bodies); a threading http.server that
counts requests in flight for the concurrency limits. No traffic leaves loopback.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import struct
import threading
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import brotli  # type: ignore[import-untyped]  # the C binding ships no type hints
import httpx
import pytest
from pytest_httpserver import HTTPServer

from pipeline.core.config import FetchSettings
from pipeline.core.errors import (
    AddressRefusedError,
    BodyTooLargeError,
    FetchError,
    FetchTimeoutError,
    HTTPStatusError,
    InvalidURLError,
    NetworkError,
    TooManyRedirectsError,
)
from pipeline.core.records import FetchedResponse
from pipeline.fetch.client import Fetcher, classify_address, parse_retry_after

MB = 1024 * 1024
TEXT = "Rockside Enterprise was named in the order. " * 200


def fetch_settings(**overrides: Any) -> FetchSettings:
    values: dict[str, Any] = {
        "allow_private_addresses": True,
        "timeout": 5.0,
        "deadline": 10.0,
        "host_delay": 0,  # the politeness gap has tests of its own (tests/test_politeness.py)
    }
    return FetchSettings(**(values | overrides))


def fetch(
    url: str,
    settings: FetchSettings | None = None,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    trusted: bool = False,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FetchedResponse:
    async def run() -> FetchedResponse:
        async with Fetcher(settings or fetch_settings(), transport=transport) as fetcher:
            return await fetcher.fetch(url, etag=etag, last_modified=last_modified, trusted=trusted)

    return asyncio.run(run())


def fetch_many(urls: list[str], settings: FetchSettings) -> list[FetchedResponse]:
    async def run() -> list[FetchedResponse]:
        async with Fetcher(settings) as fetcher:
            return list(await asyncio.gather(*(fetcher.fetch(url) for url in urls)))

    return asyncio.run(run())


def requested_paths(server: HTTPServer) -> list[str]:
    return [request.path for request, _ in server.log]


# ---------------------------------------------------------------------------------------------
# A raw socket server, for servers that misbehave

Handler = Callable[[socket.socket], None]


class RawServer:
    """Accepts loopback connections, reads one request head, then hands the socket to handler."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]
        self.connections = 0
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self._acceptor.start()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_until_idle(self) -> None:
        for thread in list(self._threads):
            thread.join(timeout=10)

    def close(self) -> None:
        self._stopping.set()
        self._acceptor.join(timeout=5)
        self._listener.close()
        self.wait_until_idle()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            thread = threading.Thread(target=self._serve, args=(connection,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(10)
            head = b""
            try:
                while b"\r\n\r\n" not in head:
                    data = connection.recv(4096)
                    if not data:
                        return
                    head += data
                self._handler(connection)
            except OSError:
                pass  # the client gave up: that is what most of these tests provoke


@pytest.fixture
def raw_server() -> Iterator[Callable[[Handler], RawServer]]:
    servers: list[RawServer] = []

    def start(handler: Handler) -> RawServer:
        server = RawServer(handler)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def wait_for_client_to_leave(connection: socket.socket) -> None:
    while connection.recv(4096):
        pass


def answer_with(head: bytes, body: bytes = b"") -> Handler:
    def answer(connection: socket.socket) -> None:
        connection.sendall(head + b"\r\n\r\n" + body)
        wait_for_client_to_leave(connection)

    return answer


# ---------------------------------------------------------------------------------------------
# A threading HTTP server that counts requests in flight


class CountingHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, delay: float) -> None:
        super().__init__(("127.0.0.1", 0), CountingHandler)
        self.delay = delay
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.served = 0
        self.client_ports: list[int] = []

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class CountingHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse is visible
    server: CountingHTTPServer

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.in_flight += 1
            self.server.max_in_flight = max(self.server.max_in_flight, self.server.in_flight)
            self.server.client_ports.append(self.client_address[1])
        threading.Event().wait(self.server.delay)
        with self.server.lock:
            self.server.in_flight -= 1
            self.server.served += 1
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass


@pytest.fixture
def counting_server() -> Iterator[CountingHTTPServer]:
    server = CountingHTTPServer(delay=0.2)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


# ---------------------------------------------------------------------------------------------
# Address classification: strings only, no connections


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("8.8.8.8", None),
        ("1.1.1.1", None),
        ("93.184.215.14", None),
        ("172.32.0.1", None),  # just past 172.16/12
        ("100.128.0.1", None),  # just past 100.64/10
        ("2606:4700:4700::1111", None),
        ("2001:4860:4860::8888", None),
        ("::ffff:8.8.8.8", None),
        ("64:ff9b::808:808", None),  # NAT64 of 8.8.8.8
        ("2002:808:808::1", None),  # 6to4 of 8.8.8.8
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "shared"),
        ("100.127.255.255", "shared"),
        ("169.254.169.254", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("0.1.2.3", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "broadcast"),
        ("192.0.0.8", "reserved"),
        ("192.0.2.10", "documentation"),
        ("198.18.0.1", "benchmarking"),
        ("203.0.113.7", "documentation"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:7f00:1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "link-local"),
        ("64:ff9b::7f00:1", "loopback"),  # NAT64 of 127.0.0.1
        ("64:ff9b:1::1", "private"),
        ("2002:7f00:1::1", "loopback"),  # 6to4 of 127.0.0.1
        ("2002:c0a8:101::1", "private"),  # 6to4 of 192.168.1.1
        ("fc00::1", "private"),
        ("fd12:3456:789a::1", "private"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("febf::1", "link-local"),
        ("fec0::1", "private"),
        ("ff02::1", "multicast"),
        ("2001:db8::1", "documentation"),
        ("2001::1", "reserved"),  # Teredo
        ("::7f00:1", "reserved"),  # deprecated IPv4-compatible form
        ("100::1", "reserved"),  # discard-only
        ("4000::1", "reserved"),  # outside 2000::/3
    ],
)
def test_classify_address(address: str, expected: str | None) -> None:
    assert classify_address(address) == expected


@pytest.mark.parametrize("not_an_address", ["localhost", "", "256.1.1.1", "127.1", "::g"])
def test_classify_address_rejects_non_addresses(not_an_address: str) -> None:
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 address"):
        classify_address(not_an_address)


# ---------------------------------------------------------------------------------------------
# Successful fetches


def compress_gzip(data: bytes) -> bytes:
    return gzip.compress(data)


def compress_br(data: bytes) -> bytes:
    return bytes(brotli.compress(data, quality=5))  # quality 11 takes seconds on the 50 MB bomb


def compress_deflate_zlib(data: bytes) -> bytes:
    return zlib.compress(data)


def compress_deflate_raw(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def compress_gzip_then_br(data: bytes) -> bytes:
    return compress_br(gzip.compress(data))


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", compress_gzip),
        ("br", compress_br),
        ("deflate", compress_deflate_zlib),
        ("deflate", compress_deflate_raw),
        ("gzip, br", compress_gzip_then_br),
    ],
)
def test_compressed_bodies_are_decoded(
    httpserver_ipv4: HTTPServer, encoding: str, compress: Callable[[bytes], bytes]
) -> None:
    httpserver_ipv4.expect_request("/article").respond_with_data(
        compress(TEXT.encode()),
        headers={"Content-Encoding": encoding, "ETag": '"v1"'},
        content_type="text/html; charset=utf-8",
    )

    response = fetch(httpserver_ipv4.url_for("/article"))

    assert response.status == 200
    assert response.body == TEXT.encode()
    assert response.final_url == httpserver_ipv4.url_for("/article")
    assert response.content_type == "text/html; charset=utf-8"
    assert response.etag == '"v1"'
    assert all(name == name.lower() for name in response.headers)
    assert response.elapsed > 0


def chunked(body: bytes, size: int) -> bytes:
    pieces = [body[start : start + size] for start in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [("gzip", compress_gzip), ("br", compress_br), ("deflate", compress_deflate_raw)],
)
def test_compressed_bodies_arriving_in_tiny_chunks_are_decoded(
    raw_server: Callable[[Handler], RawServer], encoding: str, compress: Callable[[bytes], bytes]
) -> None:
    # HTTP chunks of 7 bytes reach the decoder as separate pieces of at most 7 bytes.
    head = f"HTTP/1.1 200 OK\r\nContent-Encoding: {encoding}\r\nTransfer-Encoding: chunked"
    server = raw_server(answer_with(head.encode(), chunked(compress(TEXT.encode()), 7)))

    response = fetch(server.url())

    assert response.body == TEXT.encode()


def test_sends_user_agent_and_accept_encoding(httpserver_ipv4: HTTPServer) -> None:
    httpserver_ipv4.expect_request("/").respond_with_data("hello")
    settings = fetch_settings(user_agent="sanctions-watch-test/9")

    fetch(httpserver_ipv4.url_for("/"), settings)

    request, _ = httpserver_ipv4.log[0]
    assert request.headers["User-Agent"] == "sanctions-watch-test/9"
    assert request.headers["Accept-Encoding"] == "gzip, deflate, br"
    assert "If-None-Match" not in request.headers


def test_conditional_get_sends_validators_and_304_has_no_body(httpserver_ipv4: HTTPServer) -> None:
    last_modified = "Wed, 21 Oct 2015 07:28:00 GMT"
    httpserver_ipv4.expect_request(
        "/feed", headers={"If-None-Match": '"abc"', "If-Modified-Since": last_modified}
    ).respond_with_data(b"", status=304, headers={"ETag": '"abc"'})

    response = fetch(httpserver_ipv4.url_for("/feed"), etag='"abc"', last_modified=last_modified)

    assert response.status == 304
    assert response.not_modified
    assert response.body == b""
    assert response.etag == '"abc"'


def test_one_client_is_reused_across_fetches(counting_server: CountingHTTPServer) -> None:
    counting_server.delay = 0
    url = f"http://127.0.0.1:{counting_server.port}/"

    async def three_fetches() -> None:
        async with Fetcher(fetch_settings()) as fetcher:
            for _ in range(3):
                await fetcher.fetch(url)

    asyncio.run(three_fetches())

    assert counting_server.served == 3
    assert len(set(counting_server.client_ports)) == 1  # one kept-alive connection


# ---------------------------------------------------------------------------------------------
# Redirects


def test_redirect_chain_is_followed_and_final_url_recorded(httpserver_ipv4: HTTPServer) -> None:
    server = httpserver_ipv4
    server.expect_request("/one").respond_with_data("", 302, {"Location": "/two"})
    server.expect_request("/two").respond_with_data(
        "", 301, {"Location": server.url_for("/dir/three")}
    )
    server.expect_request("/dir/three").respond_with_data("", 307, {"Location": "four#part"})
    server.expect_request("/dir/four").respond_with_data("arrived")

    response = fetch(server.url_for("/one"))

    assert response.status == 200
    assert response.body == b"arrived"
    assert response.url == server.url_for("/one")
    assert response.final_url == server.url_for("/dir/four#part")
    assert requested_paths(server) == ["/one", "/two", "/dir/three", "/dir/four"]


def serve_redirect_chain(server: HTTPServer, redirects: int) -> None:
    for hop in range(redirects):
        server.expect_request(f"/hop{hop}").respond_with_data(
            "", 302, {"Location": f"/hop{hop + 1}"}
        )
    server.expect_request(f"/hop{redirects}").respond_with_data("end of the chain")


def test_five_redirects_are_followed(httpserver_ipv4: HTTPServer) -> None:
    serve_redirect_chain(httpserver_ipv4, 5)

    response = fetch(httpserver_ipv4.url_for("/hop0"))

    assert response.body == b"end of the chain"
    assert response.final_url == httpserver_ipv4.url_for("/hop5")


def test_six_redirects_are_refused(httpserver_ipv4: HTTPServer) -> None:
    serve_redirect_chain(httpserver_ipv4, 6)

    with pytest.raises(TooManyRedirectsError, match="more than 5 redirects") as caught:
        fetch(httpserver_ipv4.url_for("/hop0"))

    assert caught.value.url == httpserver_ipv4.url_for("/hop0")
    assert "/hop6" not in requested_paths(httpserver_ipv4)


def test_redirect_loop_is_refused(httpserver_ipv4: HTTPServer) -> None:
    httpserver_ipv4.expect_request("/a").respond_with_data("", 302, {"Location": "/b"})
    httpserver_ipv4.expect_request("/b").respond_with_data("", 302, {"Location": "/a"})

    with pytest.raises(TooManyRedirectsError, match="loop"):
        fetch(httpserver_ipv4.url_for("/a"))

    assert requested_paths(httpserver_ipv4) == ["/a", "/b"]


def test_redirect_to_another_scheme_is_refused(httpserver_ipv4: HTTPServer) -> None:
    httpserver_ipv4.expect_request("/").respond_with_data(
        "", 302, {"Location": "ftp://files.example/x"}
    )

    with pytest.raises(InvalidURLError, match="only http and https"):
        fetch(httpserver_ipv4.url_for("/"))


# ---------------------------------------------------------------------------------------------
# Body size


def test_endless_body_is_cut_off_early(raw_server: Callable[[Handler], RawServer]) -> None:
    sent = 0

    def fifty_megabytes_chunked(connection: socket.socket) -> None:
        nonlocal sent
        connection.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"10000\r\n" + b"x" * 0x10000 + b"\r\n"
        while sent < 50 * MB:
            connection.sendall(chunk)
            sent += 0x10000
        connection.sendall(b"0\r\n\r\n")

    server = raw_server(fifty_megabytes_chunked)

    with pytest.raises(BodyTooLargeError, match="max_bytes"):
        fetch(server.url(), fetch_settings(max_bytes=MB))

    server.wait_until_idle()
    assert sent < 20 * MB  # the client hung up; what was sent is mostly socket buffers


def test_content_length_over_limit_is_refused_before_reading(
    raw_server: Callable[[Handler], RawServer],
) -> None:
    def announce_a_gigabyte(connection: socket.socket) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n")
        wait_for_client_to_leave(connection)  # never sends the body: reading would time out

    server = raw_server(announce_a_gigabyte)

    with pytest.raises(BodyTooLargeError, match="Content-Length 1000000000"):
        fetch(server.url(), fetch_settings(max_bytes=MB, deadline=3.0))


@pytest.mark.parametrize(("encoding", "compress"), [("gzip", compress_gzip), ("br", compress_br)])
def test_compression_bomb_is_refused_without_inflating_it(
    raw_server: Callable[[Handler], RawServer], encoding: str, compress: Callable[[bytes], bytes]
) -> None:
    bomb = compress(bytes(50 * MB))
    assert len(bomb) < 100_000
    head = f"HTTP/1.1 200 OK\r\nContent-Encoding: {encoding}\r\nContent-Length: {len(bomb)}"
    # A raw server, not werkzeug, whose own 10 MB read buffer would cloud the measurement.
    server = raw_server(answer_with(head.encode(), bomb))

    tracemalloc.start()
    try:
        with pytest.raises(BodyTooLargeError, match=r"larger than fetch\.max_bytes"):
            fetch(server.url(), fetch_settings(max_bytes=MB))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * MB  # the 1 MB limit plus bounded pieces, never the 50 MB


# ---------------------------------------------------------------------------------------------
# Timeouts and network failures


def test_dripping_server_is_cut_off_by_the_deadline(
    raw_server: Callable[[Handler], RawServer],
) -> None:
    def drip(connection: socket.socket) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        for _ in range(1000):
            connection.sendall(b"x")
            threading.Event().wait(0.1)

    server = raw_server(drip)

    with pytest.raises(FetchTimeoutError, match="within 1s"):
        fetch(server.url(), fetch_settings(timeout=5.0, deadline=1.0))


def test_stalled_read_times_out(raw_server: Callable[[Handler], RawServer]) -> None:
    def stall(connection: socket.socket) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")
        wait_for_client_to_leave(connection)

    server = raw_server(stall)

    with pytest.raises(FetchTimeoutError, match="ReadTimeout"):
        fetch(server.url(), fetch_settings(timeout=0.3))


def unused_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_connection_refused_is_a_network_error() -> None:
    with pytest.raises(NetworkError, match="ConnectError"):
        fetch(f"http://127.0.0.1:{unused_loopback_port()}/")


def reset_connection(connection: socket.socket) -> None:
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def answer_garbage(connection: socket.socket) -> None:
    connection.sendall(b"this is not HTTP at all\r\n\r\n")


def reset_mid_body(connection: socket.socket) -> None:
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"x" * 100)
    reset_connection(connection)


@pytest.mark.parametrize(
    ("handler", "expected"),
    [
        (reset_connection, NetworkError),
        (answer_garbage, NetworkError),
        (reset_mid_body, NetworkError),
    ],
)
def test_broken_servers_raise_network_errors(
    raw_server: Callable[[Handler], RawServer], handler: Handler, expected: type[FetchError]
) -> None:
    server = raw_server(handler)

    with pytest.raises(expected):
        fetch(server.url())

    assert server.connections >= 1


def failure_of(url: str, settings: FetchSettings | None = None) -> BaseException:
    try:
        fetch(url, settings)
    except Exception as exc:  # anything at all: the test checks what kind came out
        return exc
    raise AssertionError(f"{url} was fetched without error")


def test_no_httpx_exception_escapes(
    httpserver_ipv4: HTTPServer, raw_server: Callable[[Handler], RawServer]
) -> None:
    httpserver_ipv4.expect_request("/broken-gzip").respond_with_data(
        b"this is not gzip", headers={"Content-Encoding": "gzip"}
    )
    httpserver_ipv4.expect_request("/missing").respond_with_data("", 404)
    stalled = raw_server(lambda connection: wait_for_client_to_leave(connection))
    garbage = raw_server(answer_garbage)
    bad_location = raw_server(answer_with(b"HTTP/1.1 302 Found\r\nLocation: http://[::1"))
    cases: list[tuple[str, FetchSettings | None, type[FetchError]]] = [
        (httpserver_ipv4.url_for("/broken-gzip"), None, NetworkError),
        (bad_location.url(), None, NetworkError),  # httpx: RemoteProtocolError
        (httpserver_ipv4.url_for("/missing"), None, HTTPStatusError),
        (stalled.url(), fetch_settings(timeout=0.2), FetchTimeoutError),
        (garbage.url(), None, NetworkError),
        (f"http://127.0.0.1:{unused_loopback_port()}/", None, NetworkError),
        ("http://[::1/", None, InvalidURLError),
        ("gopher://127.0.0.1/", None, InvalidURLError),
    ]

    for url, settings, expected in cases:
        error = failure_of(url, settings)
        assert type(error) is expected, (url, repr(error))
        assert type(error).__module__ == "pipeline.core.errors"
        assert isinstance(error, FetchError)
        assert error.url == url


@pytest.mark.parametrize(
    "url", ["ftp://example.com/file", "http:///no-host", "/relative/path", "mailto:a@example.com"]
)
def test_invalid_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidURLError):
        fetch(url)


@pytest.mark.parametrize("url", ["http://a b/", "http://%5bbad/", "http://[bad"])
def test_malformed_hosts_are_refused_before_any_lookup(url: str) -> None:
    # A mock transport, so that a broken check would reach the mock rather than a DNS server.
    calls: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200)

    with pytest.raises(InvalidURLError):
        fetch(url, transport=httpx.MockTransport(answer))
    assert calls == []


# ---------------------------------------------------------------------------------------------
# Error statuses and Retry-After


def test_503_with_retry_after_seconds(httpserver_ipv4: HTTPServer) -> None:
    httpserver_ipv4.expect_request("/").respond_with_data("busy", 503, {"Retry-After": "120"})

    with pytest.raises(HTTPStatusError) as caught:
        fetch(httpserver_ipv4.url_for("/"))

    assert caught.value.status == 503
    assert caught.value.retry_after == 120.0


def test_404_with_retry_after_date(httpserver_ipv4: HTTPServer) -> None:
    in_an_hour = format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
    httpserver_ipv4.expect_request("/").respond_with_data("gone", 404, {"Retry-After": in_an_hour})

    with pytest.raises(HTTPStatusError, match="404") as caught:
        fetch(httpserver_ipv4.url_for("/"))

    assert caught.value.status == 404
    assert caught.value.retry_after is not None
    assert 3000 < caught.value.retry_after <= 3600


def test_error_status_without_retry_after(httpserver_ipv4: HTTPServer) -> None:
    httpserver_ipv4.expect_request("/").respond_with_data("nope", 403)

    with pytest.raises(HTTPStatusError) as caught:
        fetch(httpserver_ipv4.url_for("/"))

    assert (caught.value.status, caught.value.retry_after) == (403, None)


NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("-5", 0.0),
        ("Wed, 01 Jan 2025 12:01:30 GMT", 90.0),
        ("Wed, 01 Jan 2025 11:00:00 GMT", 0.0),  # already past
        ("Wednesday, 01-Jan-25 12:00:10 GMT", 10.0),  # obsolete RFC 850 form
        ("soon", None),
        ("", None),
        (None, None),
        ("inf", None),
        ("nan", None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == seconds


# ---------------------------------------------------------------------------------------------
# The address guard, on loopback only


def test_guard_refuses_loopback_before_any_request(httpserver_ipv4: HTTPServer) -> None:
    httpserver_ipv4.expect_request("/").respond_with_data("secret")
    url = f"http://127.0.0.1:{httpserver_ipv4.port}/"

    with pytest.raises(AddressRefusedError, match=r"127\.0\.0\.1 .*loopback") as caught:
        fetch(url, fetch_settings(allow_private_addresses=False))

    assert caught.value.url == url
    assert httpserver_ipv4.log == []


@pytest.mark.parametrize("host", ["localhost", "2130706433", "127.1", "[::1]"])
def test_guard_resolves_host_names_and_odd_ip_forms(httpserver_ipv4: HTTPServer, host: str) -> None:
    with pytest.raises(AddressRefusedError, match="loopback"):
        fetch(
            f"http://{host}:{httpserver_ipv4.port}/", fetch_settings(allow_private_addresses=False)
        )

    assert httpserver_ipv4.log == []


def test_guard_runs_even_with_a_custom_transport() -> None:
    calls: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, content=b"from the mock")

    settings = fetch_settings(allow_private_addresses=False)
    with pytest.raises(AddressRefusedError):
        fetch("http://127.0.0.1/", settings, transport=httpx.MockTransport(answer))
    assert calls == []

    allowed = fetch("http://127.0.0.1/", transport=httpx.MockTransport(answer))
    assert allowed.body == b"from the mock"
    assert len(calls) == 1


def test_trusted_url_skips_the_guard(httpserver_ipv4: HTTPServer) -> None:
    httpserver_ipv4.expect_request("/feed.xml").respond_with_data("<rss/>")
    httpserver_ipv4.expect_request("/moved").respond_with_data("", 301, {"Location": "/feed.xml"})
    settings = fetch_settings(allow_private_addresses=False)

    response = fetch(httpserver_ipv4.url_for("/moved"), settings, trusted=True)

    assert response.body == b"<rss/>"
    assert requested_paths(httpserver_ipv4) == ["/moved", "/feed.xml"]


def test_trusted_url_redirecting_to_another_host_is_guarded(httpserver_ipv4: HTTPServer) -> None:
    other_host = f"http://localhost:{httpserver_ipv4.port}/next"
    httpserver_ipv4.expect_request("/start").respond_with_data("", 302, {"Location": other_host})
    httpserver_ipv4.expect_request("/next").respond_with_data("should not be reached")
    settings = fetch_settings(allow_private_addresses=False)

    with pytest.raises(AddressRefusedError, match=r"localhost resolves to .* loopback"):
        fetch(httpserver_ipv4.url_for("/start"), settings, trusted=True)

    assert requested_paths(httpserver_ipv4) == ["/start"]


def test_allow_private_addresses_fetches_loopback(httpserver_ipv4: HTTPServer) -> None:
    httpserver_ipv4.expect_request("/").respond_with_data("local")

    response = fetch(
        f"http://localhost:{httpserver_ipv4.port}/", fetch_settings(allow_private_addresses=True)
    )

    assert response.body == b"local"


# ---------------------------------------------------------------------------------------------
# Concurrency limits


def test_per_host_limit(counting_server: CountingHTTPServer) -> None:
    urls = [f"http://127.0.0.1:{counting_server.port}/{n}" for n in range(6)]

    responses = fetch_many(urls, fetch_settings(per_host=2, concurrency=32))

    assert [response.body for response in responses] == [b"ok"] * 6
    assert counting_server.served == 6
    assert counting_server.max_in_flight == 2  # never more; 6 x 0.2 s leaves time to reach 2


def test_global_limit_spans_hosts(counting_server: CountingHTTPServer) -> None:
    hosts = ["127.0.0.1", "localhost"]
    urls = [f"http://{hosts[n % 2]}:{counting_server.port}/{n}" for n in range(8)]

    fetch_many(urls, fetch_settings(per_host=10, concurrency=3))

    assert counting_server.served == 8
    assert counting_server.max_in_flight == 3


def test_waiting_for_a_slot_is_not_charged_to_the_deadline(
    counting_server: CountingHTTPServer,
) -> None:
    # 6 requests of 0.2 s one at a time take 1.2 s, longer than the 1 s deadline of each.
    urls = [f"http://127.0.0.1:{counting_server.port}/{n}" for n in range(6)]

    responses = fetch_many(urls, fetch_settings(per_host=1, deadline=1.0))

    assert len(responses) == 6
    assert counting_server.max_in_flight == 1
