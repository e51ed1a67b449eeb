"""A small hostile HTTP server on 127.0.0.1, built on raw sockets so that it can misbehave.

Each route maps a path to a handler that gets the client socket and the parsed request head
and may do anything with it: answer properly, drip, reset the connection mid-body, redirect in
a loop, send a compression bomb. Every request is recorded (path and Host header), so a test
can prove that some URL was never requested at all. One answer per connection
(``Connection: close``): misbehaviour never leaks into the next request.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http import HTTPStatus

MAX_HEAD = 64 * 1024


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names

    @property
    def host(self) -> str:
        return self.headers.get("host", "")


Handler = Callable[[socket.socket, Request], None]


class HostileServer:
    """Routes by path (query string ignored); unknown paths get a 404."""

    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]
        self._stopping = threading.Event()
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)

    # ---- set-up ------------------------------------------------------------------------------

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def route(self, path: str, handler: Handler) -> None:
        self.routes[path] = handler

    def hits(self, path: str) -> list[Request]:
        with self._lock:
            return [request for request in self.requests if request.path.split("?")[0] == path]

    def hosts_seen(self) -> set[str]:
        with self._lock:
            return {request.host.rsplit(":", 1)[0] for request in self.requests}

    def start(self) -> HostileServer:
        self._acceptor.start()
        return self

    def close(self) -> None:
        self._stopping.set()
        self._acceptor.join(timeout=5)
        self._listener.close()

    # ---- serving -----------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        # A client that gives up (deadline, size limit) closes its end: that is expected.
        with contextlib.suppress(OSError), connection:
            connection.settimeout(30)
            request = _read_head(connection)
            if request is None:
                return
            with self._lock:
                self.requests.append(request)
            handler = self.routes.get(request.path.split("?")[0].split("#")[0], not_found)
            handler(connection, request)


@contextlib.contextmanager
def serve() -> Iterator[HostileServer]:
    server = HostileServer().start()
    try:
        yield server
    finally:
        server.close()


def _read_head(connection: socket.socket) -> Request | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(4096)
        if not chunk or len(data) > MAX_HEAD:
            return None
        data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    request_line, *header_lines = head.split("\r\n")
    method, path, _version = request_line.split(" ", 2)
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Request(method, path, headers)


# ---------------------------------------------------------------------------------------------
# Well-behaved answers


def head(status: int, headers: dict[str, str]) -> bytes:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Whatever"
    lines = [f"HTTP/1.1 {status} {reason}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def respond(
    body: bytes = b"",
    *,
    status: int = 200,
    content_type: str | None = "text/html; charset=utf-8",
    headers: dict[str, str] | None = None,
) -> Handler:
    def handle(connection: socket.socket, _request: Request) -> None:
        fields = {"Content-Length": str(len(body)), **(headers or {})}
        if content_type is not None:
            fields["Content-Type"] = content_type
        connection.sendall(head(status, fields) + body)

    return handle


def not_found(connection: socket.socket, request: Request) -> None:
    respond(b"<html><body>Not found</body></html>", status=404)(connection, request)


def redirect(to: str, status: int = 302) -> Handler:
    return respond(status=status, content_type=None, headers={"Location": to})


# ---------------------------------------------------------------------------------------------
# Misbehaviour


def endless(content_type: str = "application/rss+xml") -> Handler:
    """A body without a length that never ends (until the client hangs up)."""

    def handle(connection: socket.socket, _request: Request) -> None:
        connection.sendall(head(200, {"Content-Type": content_type}))
        connection.sendall(b"<?xml version='1.0'?><rss><channel>")
        piece = b"<!-- padding -->" * 4096
        while True:
            connection.sendall(piece)

    return handle


def drip(body: bytes, every: float, content_type: str = "text/html") -> Handler:
    """Headers at once, then one byte every ``every`` seconds: each read succeeds, the whole
    answer never arrives in time."""

    def handle(connection: socket.socket, _request: Request) -> None:
        fields = {"Content-Type": content_type, "Content-Length": str(len(body))}
        connection.sendall(head(200, fields))
        for index in range(len(body)):
            connection.sendall(body[index : index + 1])
            time.sleep(every)

    return handle


def reset_mid_body(body: bytes, content_type: str = "text/html") -> Handler:
    """Announce the whole body, send half of it, then reset the connection (TCP RST)."""

    def handle(connection: socket.socket, _request: Request) -> None:
        fields = {"Content-Type": content_type, "Content-Length": str(len(body))}
        connection.sendall(head(200, fields) + body[: len(body) // 2])
        time.sleep(0.05)
        # SO_LINGER on with a zero timeout: close() sends RST instead of FIN.
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.close()

    return handle


def hang_up(connection: socket.socket, _request: Request) -> None:
    """Read the request and close without a word."""
    connection.close()


def gzip_bomb(decompressed_bytes: int, content_type: str = "text/html") -> Handler:
    """A small gzip body that inflates to ``decompressed_bytes`` of zeros."""
    body = make_gzip_bomb(decompressed_bytes)

    def handle(connection: socket.socket, _request: Request) -> None:
        fields = {
            "Content-Type": content_type,
            "Content-Encoding": "gzip",
            "Content-Length": str(len(body)),
        }
        connection.sendall(head(200, fields) + body)

    return handle


def make_gzip_bomb(decompressed_bytes: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = b"\0" * (1024 * 1024)
    pieces = [compressor.compress(block) for _ in range(decompressed_bytes // len(block))]
    pieces.append(compressor.flush())
    return b"".join(pieces)


def gzipped(body: bytes, content_type: str) -> Handler:
    return respond(
        gzip.compress(body), content_type=content_type, headers={"Content-Encoding": "gzip"}
    )


def counting(handler: Handler, calls: list[Request]) -> Handler:
    def handle(connection: socket.socket, request: Request) -> None:
        calls.append(request)
        handler(connection, request)

    return handle


def free_port() -> int:
    """A loopback port nobody listens on (connection refused)."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port: int = probe.getsockname()[1]
    return port


@contextlib.contextmanager
def plaintext_server() -> Iterator[int]:
    """A port that answers every connection at once with plain HTTP and hangs up: a client
    that expects TLS there fails its handshake (a real TLS failure, on loopback)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stopping = threading.Event()

    def answer() -> None:
        while not stopping.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with contextlib.suppress(OSError), connection:
                connection.sendall(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stopping.set()
        thread.join(timeout=5)
        listener.close()
