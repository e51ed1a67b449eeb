"""The HTTP client of the pipeline: pipeline.fetch is the only package that opens sockets.

One ``Fetcher`` (one shared ``httpx.AsyncClient``) serves the whole process. Every ``fetch``:

- runs under two limits: ``concurrency`` requests in flight overall and ``per_host`` per host
  name (asyncio semaphores, pipeline.fetch.limits; waiting for a slot is not charged to the
  deadline), and request starts to one host at least ``host_delay`` apart
  (pipeline.fetch.politeness, which also hears of every 429/503 so that the whole host can be
  slowed down);
- has ``timeout`` for each connect/read/write/pool wait and a total ``deadline`` over all hops
  and the body, so a server that drips one byte a second is cut off;
- follows redirects itself, at most ``max_redirects`` hops, refusing loops, so that every hop
  passes the address guard;
- refuses, unless ``allow_private_addresses``, any host that resolves to a loopback, private,
  link-local or otherwise non-public address (pipeline.fetch.guard). The guard runs here,
  before the request reaches the transport, so a custom transport cannot skip it. ``trusted``
  URLs (the operator's feeds.yaml) skip it for their own host only;
- decodes gzip/deflate/br itself, a bounded piece at a time, and stops as soon as the body
  passes ``max_bytes`` (pipeline.fetch.decode): a compression bomb never grows past the limit.

Every failure is a ``pipeline.core.errors.FetchError``; no httpx exception leaves this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx

from pipeline.core.config import FetchSettings
from pipeline.core.errors import (
    FetchError,
    FetchTimeoutError,
    InvalidURLError,
    NetworkError,
    TooManyRedirectsError,
)
from pipeline.core.records import FetchedResponse
from pipeline.fetch.decode import ACCEPT_ENCODING, DECODE_ERRORS
from pipeline.fetch.guard import checked_url, classify_address, refuse_private
from pipeline.fetch.limits import Deadline, HostLimiter
from pipeline.fetch.origins import OriginPools
from pipeline.fetch.politeness import HostGate
from pipeline.fetch.response import REDIRECT_STATUSES, Hop, answer, parse_retry_after

# The names callers have always imported from here, wherever they now live.
__all__ = [
    "ACCEPT_ENCODING",
    "REDIRECT_STATUSES",
    "Fetcher",
    "classify_address",
    "parse_retry_after",
]

log = logging.getLogger(__name__)


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
        self._hosts = HostLimiter(settings.per_host)
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
            target = checked_url(url)
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
    ) -> tuple[httpx.URL, Hop]:
        deadline = Deadline(self._settings.deadline)
        seen: set[str] = set()
        redirects = 0
        while True:
            # copy_with parses the URL again: only when there is a fragment to drop
            key = str(target.copy_with(fragment=None) if target.fragment else target)
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
        deadline: Deadline,
        *,
        guarded: bool,
        first: bool,
    ) -> Hop:
        # Host slot before the global one: a queue for one busy host must not hold global slots.
        # The host delay is waited for in the host slot, and like it is not charged to the
        # deadline; redirect hops follow at once (one request to the site, as browsers do).
        async with self._hosts.hold(target.host):
            if first:
                await self.host_gate.wait_turn(target.host)
            async with self._in_flight, deadline.running():
                if guarded and not self._settings.allow_private_addresses:
                    await refuse_private(target)
                request = self._client.build_request("GET", target, headers=headers)
                response = await self._client.send(request, stream=True)
                try:
                    return await answer(response, self.host_gate, self._settings.max_bytes)
                finally:
                    await response.aclose()


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


def _conditional_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


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
    except TimeoutError as exc:  # asyncio.timeout of limits.Deadline
        raise FetchTimeoutError(f"{url}: no complete answer within {deadline:g}s", url=url) from exc
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise InvalidURLError(f"{url}: {exc}", url=url) from exc
    except (httpx.HTTPError, httpx.StreamError) as exc:
        raise NetworkError(f"{url}: {type(exc).__name__}: {exc}", url=url) from exc
    except DECODE_ERRORS as exc:
        raise NetworkError(f"{url}: the body cannot be decoded ({exc})", url=url) from exc
    except OSError as exc:  # DNS, TLS, resets raised by a transport that does not map them
        raise NetworkError(f"{url}: {type(exc).__name__}: {exc}", url=url) from exc
