"""The benchmark's web: 50 loopback sites serving the workload's feeds and pages, slowly.

``python -m bench.server --articles N --latency 0.15`` binds one port on each of 127.0.0.2 ..
127.0.0.51 (loopback addresses only), prints ``{"port": P}`` on stdout once it is listening,
and serves until stdin closes or it gets SIGTERM. Every answer waits a jittered latency
(uniform between 0.5x and 1.5x ``--latency``) as a real site's would; the waiting costs no CPU.

Routes: ``/feeds/<f>.xml`` (the workload's RSS feeds, with an ETag: 304 when it matches),
``/steady/<f>.xml`` (empty feeds for the 304 steady state), ``/news/<k>`` and ``/wire/<k>``
(article pages, gzip when accepted), ``/_stats`` (request counts as JSON; ``?reset`` zeroes
them, answered at once).

A small asyncio protocol rather than http.server: the server shares the machine's cores with
the pipeline under test, so it must cost as little CPU as possible.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import gzip
import json
import os
import random
import signal
import socket
import stat
import sys
import threading
from collections import Counter
from dataclasses import dataclass

from bench.corpus import templates
from bench.workload import HOSTS, Workload

_LAST_MODIFIED = "Mon, 06 Jan 2025 06:00:00 GMT"
_REASONS = {200: "OK", 304: "Not Modified", 404: "Not Found", 400: "Bad Request"}


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    gzip: bool = False
    etag: str | None = None

    def encode(self, keep_alive: bool) -> bytes:
        lines = [f"HTTP/1.1 {self.status} {_REASONS[self.status]}", "Server: bench"]
        if self.status != 304:
            lines += [f"Content-Type: {self.content_type}", f"Content-Length: {len(self.body)}"]
        if self.gzip:
            lines.append("Content-Encoding: gzip")
        if self.etag:
            lines += [f'ETag: "{self.etag}"', f"Last-Modified: {_LAST_MODIFIED}"]
        lines.append("Connection: keep-alive" if keep_alive else "Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return head if self.status == 304 else head + self.body


class Site:
    """Answers requests for the workload; shared by every connection."""

    def __init__(self, workload: Workload, latency: float, seed: int) -> None:
        self.workload = workload
        self.latency = latency
        self.templates = templates()
        self.stats: Counter[str] = Counter()
        self._rng = random.Random(seed)
        self._feeds: dict[str, tuple[bytes, bytes]] = {}  # path -> (xml, gzip xml)

    def delay(self) -> float:
        return self.latency * self._rng.uniform(0.5, 1.5)

    def answer(self, target: str, headers: dict[str, str]) -> Answer:
        path, _, query = target.partition("?")
        accepts_gzip = "gzip" in headers.get("accept-encoding", "")
        section = path.split("/")[1] if path.count("/") >= 1 else ""
        self.stats[section] += 1
        if section in ("feeds", "steady"):
            return self._feed(path, section, headers, accepts_gzip)
        if section in ("news", "wire"):
            return self._page(path, accepts_gzip)
        if section == "_stats":
            body = json.dumps(dict(self.stats)).encode()
            if query == "reset":
                self.stats.clear()
            return Answer(200, body, "application/json")
        return Answer(404, b"not found")

    def _feed(self, path: str, section: str, headers: dict[str, str], gz: bool) -> Answer:
        try:
            f = int(path.rsplit("/", 1)[1].removesuffix(".xml"))
        except ValueError:
            return Answer(404, b"not found")
        limit = self.workload.feeds if section == "feeds" else 10**9
        if not 0 <= f < limit:
            return Answer(404, b"not found")
        etag = f"{section}-{f}-{self.workload.articles}"
        if headers.get("if-none-match") == f'"{etag}"':
            self.stats["not_modified"] += 1
            return Answer(304, etag=etag)
        if path not in self._feeds:
            xml = self.workload.feed_xml(f) if section == "feeds" else self.workload.steady_xml(f)
            self._feeds[path] = (xml, gzip.compress(xml, 6, mtime=0))
        xml, compressed = self._feeds[path]
        return Answer(200, compressed if gz else xml, "application/rss+xml", gz, etag)

    def _page(self, path: str, gz: bool) -> Answer:
        page = self.workload.page_of(path)
        if page is None:
            return Answer(404, b"not found")
        index, url, sentence = page
        template = self.templates[index]
        body = template.render_gzip(url, sentence) if gz else template.render(url, sentence)
        return Answer(200, body, gzip=gz)


class Connection(asyncio.Protocol):
    """HTTP/1.1 with keep-alive; one request at a time, as httpx sends them."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
            self._respond(head)

    def _respond(self, head: bytes) -> None:
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3:
            self._send(Answer(400, b"bad request").encode(False), close=True)
            return
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        keep_alive = headers.get("connection", "").lower() != "close"
        answer = self.site.answer(parts[1], headers)
        if parts[1].startswith("/_stats"):
            self._send(answer.encode(keep_alive), close=not keep_alive)
            return
        loop = asyncio.get_running_loop()
        loop.call_later(self.site.delay(), self._send, answer.encode(keep_alive), not keep_alive)

    def _send(self, data: bytes, close: bool) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self.transport.write(data)
        if close:
            self.transport.close()


async def _listen(site: Site, port: int) -> tuple[int, list[asyncio.Server]]:
    """Bind ``port`` (0: any free one) on every host; retry with another port on a clash."""
    loop = asyncio.get_running_loop()
    for _attempt in range(20):
        servers: list[asyncio.Server] = []
        chosen = port
        try:
            for host in HOSTS:
                server = await loop.create_server(
                    lambda: Connection(site), host, chosen, backlog=1024, reuse_address=True
                )
                if chosen == 0:
                    sockname = server.sockets[0].getsockname()
                    chosen = int(sockname[1])
                servers.append(server)
            return chosen, servers
        except OSError as exc:
            for server in servers:
                server.close()
            if exc.errno != errno.EADDRINUSE or port != 0:
                raise
    raise OSError("no port is free on every benchmark host")


async def serve(articles: int, latency: float, seed: int, port: int) -> None:
    pages = len(templates())
    site = Site(Workload.on_corpus(articles, port=0, seed=seed), latency, seed)
    chosen, servers = await _listen(site, port)
    site.workload = Workload.on_corpus(articles, port=chosen, seed=seed)
    print(json.dumps({"port": chosen, "hosts": len(HOSTS), "pages": pages}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    if stat.S_ISFIFO(os.fstat(sys.stdin.fileno()).st_mode):  # the bench's pipe: stop with it
        threading.Thread(target=_wait_for_eof, args=(loop, stop), daemon=True).start()
    await stop.wait()
    for server in servers:
        server.close()


def _wait_for_eof(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    sys.stdin.buffer.read()
    loop.call_soon_threadsafe(stop.set)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.15, help="seconds, mean")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--port", type=int, default=0)
    options = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(options.articles, options.latency, options.seed, options.port))


def check_loopback() -> None:
    """Fail early, with a clear message, where 127.0.0.2-51 are not loopback addresses."""
    for host in (HOSTS[0], HOSTS[-1]):
        with socket.socket() as probe:
            try:
                probe.bind((host, 0))
            except OSError as exc:
                message = f"bench: cannot bind {host} ({exc}); it needs Linux loopback addresses"
                raise SystemExit(message) from None


if __name__ == "__main__":
    main()
