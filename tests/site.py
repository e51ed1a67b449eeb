"""A small real HTTP server on 127.0.0.1 for end-to-end tests.

Routes map a path to a `Page` (status, headers, body, optional ETag); the server answers
conditional requests with 304 like a real site and records every request it receives.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Page:
    body: bytes = b""
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    etag: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    path: str
    headers: dict[str, str]


class Site:
    def __init__(self) -> None:
        self.routes: dict[str, Page] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def add(self, path: str, page: Page) -> None:
        self.routes[path] = page

    def redirect(self, path: str, to: str, status: int = 301) -> None:
        self.routes[path] = Page(status=status, headers={"Location": to})

    def hits(self, path: str) -> list[Request]:
        with self._lock:
            return [request for request in self.requests if request.path == path]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with site._lock:
                    site.requests.append(Request(self.path, dict(self.headers.items())))
                page = site.routes.get(self.path.split("#")[0]) or site.routes.get(
                    self.path.split("?")[0]
                )
                if page is None:
                    self._send(Page(b"<html><body>Not found</body></html>", status=404))
                    return
                if page.etag and self.headers.get("If-None-Match") == page.etag:
                    self._send(Page(status=304, etag=page.etag), body=False)
                    return
                self._send(page)

            def _send(self, page: Page, body: bool = True) -> None:
                self.send_response(page.status)
                if body:
                    self.send_header("Content-Type", page.content_type)
                    self.send_header("Content-Length", str(len(page.body)))
                if page.etag:
                    self.send_header("ETag", page.etag)
                for name, value in page.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if body and page.status != 304:
                    self.wfile.write(page.body)

            def log_message(self, *args: object) -> None:  # keep test output clean
                return

        return Handler


@contextmanager
def serve() -> Iterator[Site]:
    site = Site()
    thread = threading.Thread(target=site.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        site.server.shutdown()
        site.server.server_close()


def rss(items: list[dict[str, str]], title: str = "Test feed") -> bytes:
    """An RSS 2.0 document; each item has link, title, and optionally description, guid."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<rss version="2.0"><channel><title>{title}</title><link>http://example.org/</link>',
        "<description>test</description>",
    ]
    for item in items:
        parts.append("<item>")
        parts.append(f"<title>{item['title']}</title><link>{item['link']}</link>")
        parts.append(f"<guid>{item.get('guid', item['link'])}</guid>")
        if "description" in item:
            parts.append(f"<description><![CDATA[{item['description']}]]></description>")
        parts.append("<pubDate>Mon, 06 Jan 2025 10:00:00 GMT</pubDate></item>")
    parts.append("</channel></rss>")
    return "\n".join(parts).encode("utf-8")


def article_html(title: str, paragraphs: list[str], *, sidebar: list[str] | None = None,
                 canonical: str | None = None) -> bytes:  # fmt: skip
    """A realistic article page: navigation, the article, a 'Trending' sidebar, a footer."""
    body = "\n".join(f"<p>{paragraph}</p>" for paragraph in paragraphs)
    trending = "".join(
        f'<li><a href="/t/{i}">{text}</a></li>' for i, text in enumerate(sidebar or [])
    )
    link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title} | The Daily Test</title>{link}
<meta property="og:title" content="{title}"></head>
<body>
<header><nav><a href="/">Home</a> <a href="/world">World</a> <a href="/business">Business</a>
<a href="/sport">Sport</a></nav></header>
<main><article><h1>{title}</h1><p class="byline">By Staff Reporter</p>
{body}
</article></main>
<aside class="sidebar"><h2>Trending</h2><ul>{trending}</ul></aside>
<footer><p>Copyright 2025 The Daily Test. All rights reserved.</p>
<a href="/about">About us</a> <a href="/contact">Contact</a></footer>
</body></html>""".encode()
