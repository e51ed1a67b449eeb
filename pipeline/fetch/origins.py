"""One small connection pool per origin (scheme, host, port), the least recently used closed.

httpcore's pool looks at every connection it holds on every request (and asks the socket of
each idle one whether the server closed it): with one pool for the whole process, keeping a
connection per recently polled host open makes each request cost O(hosts); closing them
instead (a pool no bigger than the requests in flight) makes nearly every 304 of a round over
many hosts pay for a new TCP connection. Per origin, a pool holds at most ``fetch.per_host``
connections, and ``max_origins`` origins keep theirs open.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx

MAX_ORIGINS = 256  # origins whose idle connections stay open (each at most per_host sockets)

Origin = tuple[bytes, bytes, int | None]


@dataclass(slots=True)
class _Pool:
    transport: httpx.AsyncHTTPTransport
    active: int = 0  # responses not closed yet: the pool must not be closed under them


class _Released(httpx.AsyncByteStream):
    """A response body that tells its pool when it is closed."""

    def __init__(self, stream: httpx.AsyncByteStream, pool: _Pool) -> None:
        self._stream = stream
        self._pool: _Pool | None = pool

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            if self._pool is not None:
                self._pool.active -= 1
                self._pool = None


class OriginPools(httpx.AsyncBaseTransport):
    def __init__(self, per_host: int, *, max_origins: int = MAX_ORIGINS) -> None:
        self._limits = httpx.Limits(max_connections=per_host, max_keepalive_connections=per_host)
        self._tls = httpx.create_ssl_context()  # one for all: loading the CA bundle costs ms
        self._max_origins = max_origins
        self._pools: OrderedDict[Origin, _Pool] = OrderedDict()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        origin = (url.raw_scheme, url.raw_host, url.port)
        pool = self._pools.get(origin)
        if pool is None:
            pool = self._pools[origin] = _Pool(self._transport())
            await self._close_least_recent()
        self._pools.move_to_end(origin)
        pool.active += 1
        try:
            response = await pool.transport.handle_async_request(request)
        except BaseException:
            pool.active -= 1
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _Released(response.stream, pool)
        return response

    def _transport(self) -> httpx.AsyncHTTPTransport:
        return httpx.AsyncHTTPTransport(verify=self._tls, limits=self._limits, trust_env=False)

    async def _close_least_recent(self) -> None:
        idle = [origin for origin, pool in self._pools.items() if not pool.active]
        for origin in idle[: max(0, len(self._pools) - self._max_origins)]:
            await self._pools.pop(origin).transport.aclose()

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), OrderedDict()
        for pool in pools:
            await pool.transport.aclose()
