"""The HTTP client of the pipeline: the only module that opens sockets.

One ``Fetcher`` (one shared ``httpx.AsyncClient``) serves the whole process. Every ``fetch``:

- runs under two limits: ``concurrency`` requests in flight overall and ``per_host`` per host
  name (asyncio semaphores; waiting for a slot is not charged to the deadline), and request
  starts to one host at least ``host_delay`` apart (pipeline.fetch.politeness, which also hears of
  every 429/503 so that the whole host can be slowed down);
- has ``timeout`` for each connect/read/write/pool wait and a total ``deadline`` over all hops
  and the body, so a server that drips one byte a second is cut off;
- follows redirects itself, at most ``max_redirects`` hops, refusing loops, so that every hop
  passes the address guard;
- refuses, unless ``allow_private_addresses``, any host that resolves to a loopback, private,
  link-local or otherwise non-public address. The guard runs here, before the request reaches
  the transport, so a custom transport cannot skip it. ``trusted`` URLs (the operator's
  feeds.yaml) skip it for their own host only. The connection resolves the name again, so a
  DNS answer that changes between the two lookups (rebinding) is not caught;
- decodes gzip/deflate/br itself, a bounded piece at a time, and stops as soon as the body
  passes ``max_bytes``: a compression bomb never grows past the limit in memory.

Every failure is a ``pipeline.core.errors.FetchError``; no httpx exception leaves this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import math
import re
import socket
import time
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any, Protocol

import brotli  # type: ignore[import-untyped]  # the C binding ships no type hints
import httpx

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
from pipeline.fetch.origins import OriginPools
from pipeline.fetch.politeness import HostGate

log = logging.getLogger(__name__)

ACCEPT_ENCODING = "gzip, deflate, br"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_PIECE = 64 * 1024  # most decoded bytes produced from one step of the decompressor
# What a host may look like after IDNA encoding (":" for IPv6 literals, "_" occurs in the wild).
_HOST_CHARACTERS = re.compile(rb"[A-Za-z0-9_.:\-]+")

# ---------------------------------------------------------------------------------------------
# Address classification

# First match wins; ranges from the IANA special-purpose address registries.
_IPV4_SPECIAL = (
    ("0.0.0.0/8", "unspecified"),  # "this network"; 0.0.0.0 reaches the local host
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "shared"),  # carrier-grade NAT
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),  # includes cloud metadata at 169.254.169.254
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "reserved"),
    ("192.0.2.0/24", "documentation"),
    ("192.88.99.0/24", "reserved"),  # retired 6to4 relay anycast
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("255.255.255.255/32", "broadcast"),
    ("240.0.0.0/4", "reserved"),
)
_IPV6_SPECIAL = (
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("64:ff9b:1::/48", "private"),  # local-use NAT64
    ("2001::/23", "reserved"),  # IETF protocol assignments, Teredo among them
    ("2001:db8::/32", "documentation"),
    ("3fff::/20", "documentation"),
    ("fc00::/7", "private"),  # unique local
    ("fe80::/10", "link-local"),
    ("fec0::/10", "private"),  # deprecated site-local
    ("ff00::/8", "multicast"),
)
_IPV4_RANGES = [(ipaddress.IPv4Network(network), name) for network, name in _IPV4_SPECIAL]
_IPV6_RANGES = [(ipaddress.IPv6Network(network), name) for network, name in _IPV6_SPECIAL]
_IPV6_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")  # all public IPv6 space lies here
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def classify_address(address: str) -> str | None:
    """The class of a non-public IP address ('loopback', 'private', 'link-local', 'shared',
    'reserved', 'multicast', 'unspecified', 'broadcast', 'documentation', 'benchmarking'),
    or None for a public, fetchable address.

    IPv6 forms that carry an IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``, NAT64
    ``64:ff9b::a.b.c.d``, 6to4 ``2002::/16``) are judged by that IPv4 address. Raises
    ValueError when ``address`` is not an IP address.
    """
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv4Address):
        return _classify_ipv4(ip)
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        return _classify_ipv4(embedded)
    for network, name in _IPV6_RANGES:
        if ip in network:
            return name
    return None if ip in _IPV6_GLOBAL_UNICAST else "reserved"


def _classify_ipv4(ip: ipaddress.IPv4Address) -> str | None:
    for network, name in _IPV4_RANGES:
        if ip in network:
            return name
    return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


# ---------------------------------------------------------------------------------------------
# Retry-After


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), never
    negative; None when the header is missing or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds: float | None = float(text)
    except ValueError:
        seconds = _seconds_until(text, now or datetime.now(UTC))
    if seconds is None or not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _seconds_until(http_date: str, now: datetime) -> float | None:
    try:
        when = parsedate_to_datetime(http_date)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=UTC)
    return (when - now).total_seconds()


# ---------------------------------------------------------------------------------------------
# Bounded content decoding


class _Decoder(Protocol):
    def decode(self, data: bytes) -> Iterator[bytes]: ...

    def flush(self) -> Iterator[bytes]: ...


class _IdentityDecoder:
    def decode(self, data: bytes) -> Iterator[bytes]:
        yield data

    def flush(self) -> Iterator[bytes]:
        yield from ()


class _ZlibDecoder:
    """gzip or deflate, at most ``_PIECE`` bytes out per step (zlib's ``max_length``)."""

    def __init__(self, wbits: int, *, raw_deflate_fallback: bool = False) -> None:
        self._inflater = zlib.decompressobj(wbits)
        # 'deflate' should be zlib-wrapped, but many servers send raw deflate: try both once.
        self._raw_deflate_fallback = raw_deflate_fallback

    def decode(self, data: bytes) -> Iterator[bytes]:
        piece = self._first_piece(data)
        while piece:
            yield piece
            tail = self._inflater.unconsumed_tail
            piece = self._inflater.decompress(tail, _PIECE) if tail else b""

    def flush(self) -> Iterator[bytes]:
        rest = self._inflater.flush()  # small: unconsumed input was drained in decode
        if rest:
            yield rest

    def _first_piece(self, data: bytes) -> bytes:
        try:
            return self._inflater.decompress(data, _PIECE)
        except zlib.error:
            if not self._raw_deflate_fallback:
                raise
            self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            return self._inflater.decompress(data, _PIECE)
        finally:
            self._raw_deflate_fallback = False


class _BrotliDecoder:
    """br, at most about ``_PIECE`` bytes out per step (brotli's ``output_buffer_limit``)."""

    def __init__(self) -> None:
        self._decompressor = brotli.Decompressor()

    def decode(self, data: bytes) -> Iterator[bytes]:
        piece: bytes = self._decompressor.process(data, output_buffer_limit=_PIECE)
        while piece:
            yield piece
            piece = self._decompressor.process(b"", output_buffer_limit=_PIECE)

    def flush(self) -> Iterator[bytes]:
        yield from ()


def _decoder_named(name: str) -> _Decoder:
    if name in ("gzip", "x-gzip"):
        return _ZlibDecoder(zlib.MAX_WBITS | 16)
    if name == "deflate":
        return _ZlibDecoder(zlib.MAX_WBITS, raw_deflate_fallback=True)
    if name == "br":
        return _BrotliDecoder()
    return _IdentityDecoder()  # 'identity', or a bogus value such as 'utf-8': as httpx does


class _BodyDecoder:
    """Undoes every Content-Encoding listed, the last one applied first."""

    def __init__(self, content_encoding: str) -> None:
        names = [name.strip().lower() for name in content_encoding.split(",") if name.strip()]
        self._stages = [_decoder_named(name) for name in reversed(names)]

    def decode(self, data: bytes) -> Iterator[bytes]:
        return self._through(0, data)

    def flush(self) -> Iterator[bytes]:
        for index, stage in enumerate(self._stages):
            for piece in stage.flush():
                yield from self._through(index + 1, piece)

    def _through(self, index: int, data: bytes) -> Iterator[bytes]:
        if index == len(self._stages):
            yield data
            return
        for piece in self._stages[index].decode(data):
            yield from self._through(index + 1, piece)


# ---------------------------------------------------------------------------------------------
# Limits and deadline


@dataclass(slots=True)
class _HostSlot:
    semaphore: asyncio.Semaphore
    users: int = 0


class _HostLimiter:
    """One semaphore per host name, dropped when no request for the host is in flight or waiting."""

    def __init__(self, per_host: int) -> None:
        self._per_host = per_host
        self._slots: dict[str, _HostSlot] = {}

    @contextlib.asynccontextmanager
    async def hold(self, host: str) -> AsyncIterator[None]:
        slot = self._slots.setdefault(host, _HostSlot(asyncio.Semaphore(self._per_host)))
        slot.users += 1
        try:
            async with slot.semaphore:
                yield
        finally:
            slot.users -= 1
            if not slot.users:
                del self._slots[host]


class _Deadline:
    """The total time budget of one fetch, spent only while a hop is actually running."""

    def __init__(self, seconds: float) -> None:
        self._remaining = seconds

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        started = time.monotonic()
        try:
            async with asyncio.timeout(self._remaining):
                yield
        finally:
            self._remaining -= time.monotonic() - started


# ---------------------------------------------------------------------------------------------
# The client


@dataclass(frozen=True, slots=True)
class _Hop:
    """One request's answer: where to go next, or the final status, headers and body."""

    status: int
    headers: dict[str, str]
    body: bytes = b""
    redirect_to: httpx.URL | None = None


class Fetcher:
    """One shared httpx.AsyncClient for the whole process (create once, reuse for every request)."""

    def __init__(
        self, settings: FetchSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._settings = settings
        self._client = _CookielessClient(
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
            timeout=httpx.Timeout(settings.timeout),
            # Requests in flight are bounded by _in_flight (fetch.concurrency), connections
            # by a pool per origin (pipeline.fetch.origins): a round over more hosts than
            # `concurrency` reuses them instead of connecting anew for nearly every 304.
            follow_redirects=False,  # _follow checks every hop
            trust_env=False,  # no proxy or certificate settings picked up from the environment
            transport=transport or OriginPools(settings.per_host),
        )
        self._in_flight = asyncio.Semaphore(settings.concurrency)
        self._hosts = _HostLimiter(settings.per_host)
        # fetch.host_delay between request starts to one host; 429/503 go to its listeners.
        self.host_gate = HostGate(settings.host_delay)

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        trusted: bool = False,
    ) -> FetchedResponse:
        """GET ``url`` (following redirects); raise a FetchError subclass on any failure.

        ``etag``/``last_modified`` make the request conditional (a 304 has an empty body).
        ``trusted`` skips the address guard for the URL's own host (feeds from feeds.yaml).
        """
        started = time.monotonic()
        with _translated_errors(url, self._settings.deadline):
            target = _checked_url(url)
            headers = _conditional_headers(etag, last_modified)
            trusted_host = target.host if trusted else None
            final_url, hop = await self._follow(target, headers, trusted_host=trusted_host)
        return FetchedResponse(
            url=url,
            final_url=str(final_url),
            status=hop.status,
            headers=hop.headers,
            body=hop.body,
            elapsed=time.monotonic() - started,
        )

    async def _follow(
        self, target: httpx.URL, headers: dict[str, str], *, trusted_host: str | None
    ) -> tuple[httpx.URL, _Hop]:
        deadline = _Deadline(self._settings.deadline)
        seen: set[str] = set()
        redirects = 0
        while True:
            key = str(target.copy_with(fragment=None))
            if key in seen:
                raise TooManyRedirectsError(f"redirect loop: {key} was reached twice")
            seen.add(key)
            guarded = target.host != trusted_host
            hop = await self._one_hop(
                target, headers, deadline, guarded=guarded, first=not redirects
            )
            if hop.redirect_to is None:
                return target, hop
            redirects += 1
            if redirects > self._settings.max_redirects:
                raise TooManyRedirectsError(
                    f"more than {self._settings.max_redirects} redirects"
                    f" (the last one to {hop.redirect_to})"
                )
            log.debug("redirect", extra={"url": str(target), "stage": "fetch"})
            target = hop.redirect_to

    async def _one_hop(
        self,
        target: httpx.URL,
        headers: dict[str, str],
        deadline: _Deadline,
        *,
        guarded: bool,
        first: bool,
    ) -> _Hop:
        # Host slot before the global one: a queue for one busy host must not hold global slots.
        # The host delay is waited for in the host slot, and like it is not charged to the
        # deadline; redirect hops follow at once (one request to the site, as browsers do).
        async with self._hosts.hold(target.host):
            if first:
                await self.host_gate.wait_turn(target.host)
            async with self._in_flight, deadline.running():
                if guarded and not self._settings.allow_private_addresses:
                    await _refuse_private(target)
                request = self._client.build_request("GET", target, headers=headers)
                response = await self._client.send(request, stream=True)
                try:
                    return await self._answer(response)
                finally:
                    await response.aclose()

    async def _answer(self, response: httpx.Response) -> _Hop:
        status = response.status_code
        headers = {name.lower(): value for name, value in response.headers.items()}
        retry_after = parse_retry_after(headers.get("retry-after")) if status >= 400 else None
        self.host_gate.answered(response.url.host, status, retry_after)
        if status in REDIRECT_STATUSES:
            return _Hop(status, headers, redirect_to=_redirect_target(response))
        if status >= 400:
            raise HTTPStatusError(
                f"HTTP {status} {response.reason_phrase} from {response.url}",
                status=status,
                retry_after=retry_after,
            )
        if status == 304:
            # Read to its end (a 304 has no body): a response closed unread closes its
            # connection, and the next poll of the host would pay for a new one.
            await self._read_body(response)
            return _Hop(status, headers)
        return _Hop(status, headers, body=await self._read_body(response))

    async def _read_body(self, response: httpx.Response) -> bytes:
        limit = self._settings.max_bytes
        declared = _content_length(response)
        if declared is not None and declared > limit:
            raise BodyTooLargeError(
                f"{response.url}: Content-Length {declared} exceeds fetch.max_bytes ({limit})"
            )
        if response.is_stream_consumed:  # an in-memory response (httpx.MockTransport), decoded
            _check_size(len(response.content), limit, response.url)
            return response.content
        decoder = _BodyDecoder(response.headers.get("content-encoding", ""))
        body = bytearray()
        received = 0
        async for raw in response.aiter_raw():
            # Raw bytes count too: trailing garbage after a gzip member decodes to nothing.
            received += len(raw)
            _check_size(received, limit, response.url)
            for piece in decoder.decode(raw):
                body += piece
                _check_size(len(body), limit, response.url)
        for piece in decoder.flush():
            body += piece
            _check_size(len(body), limit, response.url)
        return bytes(body)


# ---------------------------------------------------------------------------------------------
# Helpers of Fetcher


def _refusing_cookie_jar() -> CookieJar:
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


class _NoCookies(httpx.Cookies):
    """Cookies that stay empty: a response's Set-Cookie is not even looked at (httpx would
    build urllib request and response stand-ins for every response, 304s included, only for
    the refusing jar to drop what they carry)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class _CookielessClient(httpx.AsyncClient):
    """Unrelated fetches must not share cookies: this client never keeps one."""

    _no_cookies = _NoCookies(_refusing_cookie_jar())

    @property
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        pass  # httpx's own __init__ sets the (empty) cookies it was given


def _checked_url(url: str | httpx.URL) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise InvalidURLError(f"{url!s:.200}: not a valid URL ({exc})") from None
    if parsed.scheme not in ("http", "https"):
        raise InvalidURLError(f"{url!s:.200}: only http and https URLs are fetched")
    if not parsed.host:
        raise InvalidURLError(f"{url!s:.200}: the URL has no host")
    if not _HOST_CHARACTERS.fullmatch(parsed.raw_host):  # httpx percent-encodes "[bad" etc.
        raise InvalidURLError(f"{url!s:.200}: {parsed.host!r} is not a valid host name")
    return parsed


def _conditional_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def _redirect_target(response: httpx.Response) -> httpx.URL:
    location = response.headers.get("location")
    if not location:
        raise HTTPStatusError(
            f"HTTP {response.status_code} redirect without a Location header from {response.url}",
            status=response.status_code,
        )
    return _checked_url(response.url.join(location))


def _content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length", "").strip()
    return int(value) if value.isdigit() else None


def _check_size(size: int, limit: int, url: httpx.URL) -> None:
    if size > limit:
        raise BodyTooLargeError(f"{url}: body is larger than fetch.max_bytes ({limit})")


async def _refuse_private(target: httpx.URL) -> None:
    """Raise AddressRefusedError when any address of the URL's host is not public."""
    for address in await _addresses_of(target):
        kind = classify_address(address)
        if kind is not None:
            raise AddressRefusedError(
                f"{target.host} resolves to {address}, a {kind} address: refused"
                " (set fetch.allow_private_addresses: true to allow)"
            )


async def _addresses_of(target: httpx.URL) -> list[str]:
    host = target.host
    with contextlib.suppress(ValueError):
        return [str(ipaddress.ip_address(host))]  # an IP literal needs no lookup
    loop = asyncio.get_running_loop()
    try:
        name = target.raw_host.decode("ascii")  # IDNA-encoded by httpx
        infos = await loop.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise NetworkError(f"cannot resolve {host}: {exc.strerror}") from None
    except UnicodeError:
        raise InvalidURLError(f"{host}: not a valid host name") from None
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise NetworkError(f"cannot resolve {host}: no addresses")
    return addresses


@contextlib.contextmanager
def _translated_errors(url: str, deadline: float) -> Iterator[None]:
    """Turn every httpx, decoder and timeout exception into the FetchError that says why."""
    try:
        yield
    except FetchError as exc:
        exc.url = exc.url or url  # inner helpers know the hop, the caller knows the request
        raise
    except httpx.TimeoutException as exc:
        raise FetchTimeoutError(f"{url}: {type(exc).__name__} {exc}".strip(), url=url) from exc
    except TimeoutError as exc:  # asyncio.timeout of _Deadline
        raise FetchTimeoutError(f"{url}: no complete answer within {deadline:g}s", url=url) from exc
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise InvalidURLError(f"{url}: {exc}", url=url) from exc
    except (httpx.HTTPError, httpx.StreamError) as exc:
        raise NetworkError(f"{url}: {type(exc).__name__}: {exc}", url=url) from exc
    except (zlib.error, brotli.error) as exc:
        raise NetworkError(f"{url}: the body cannot be decoded ({exc})", url=url) from exc
    except OSError as exc:  # DNS, TLS, resets raised by a transport that does not map them
        raise NetworkError(f"{url}: {type(exc).__name__}: {exc}", url=url) from exc
