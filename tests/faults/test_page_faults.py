"""Hostile article pages, end to end: a feed whose entries link to broken and hostile pages.

A page that cannot be fetched or read must not lose the article: it is stored with the feed
entry's own text (text_source "feed") and a log line says why. A page that is odd but readable
(invalid UTF-8, a wrong charset header, a 10 MB single line, pathological nesting) is stored
from the page. Either way the healthy feed of the same run is ingested and nothing stored is
broken; a page's XXE never reads a file.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests import corpora
from tests.conftest import run_once
from tests.db_engines import ENGINES, database_url
from tests.faults.hostile import (
    Handler,
    HostileServer,
    drip,
    endless,
    free_port,
    gzip_bomb,
    hang_up,
    not_found,
    redirect,
    reset_mid_body,
    respond,
    serve,
)
from tests.faults.support import (
    RSS_TYPE,
    SUMMARY,
    add_healthy_feed,
    assert_consistent,
    assert_healthy_feed_ingested,
    everything_stored,
    feed_state,
    rows,
    rss_document,
    rss_item,
    write_config,
)
from tests.site import article_html
from tests.test_ingest_e2e import NDC_STORY

JSOUP_FUZZ = corpora.CORPORA / "hostile" / "html-fuzz-jsoup"
SECRET = "SECRET-PAGE-FILE-3b7d0a"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06" + b"\0" * 64
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
MAX_BYTES = 12 * 1024 * 1024  # room for the 10 MB single-line page
DEADLINE = 4.0  # the drips never finish; big bodies on a busy machine do
PAGES_FEED = "pages"
ARTICLE = article_html("Missile body sanctioned", NDC_STORY)


@dataclass(frozen=True)
class PageFault:
    route: Callable[[HostileServer, Path], Handler]
    reason: str  # what the "using the feed's text" log line says


def fixed(handler: Handler) -> Callable[[HostileServer, Path], Handler]:
    return lambda _server, _secret: handler


def status(code: int) -> Callable[[HostileServer, Path], Handler]:
    return fixed(respond(b"<html><body>no</body></html>", status=code))


def redirect_loop(server: HostileServer, _secret: Path) -> Handler:
    return redirect(server.url("/page/page-redirect-loop"), 301)


def six_redirects(server: HostileServer, _secret: Path) -> Handler:
    for hop in range(1, 7):
        server.route(f"/page-hop/{hop}", redirect(server.url(f"/page-hop/{hop + 1}")))
    server.route("/page-hop/7", respond(ARTICLE))
    return redirect(server.url("/page-hop/1"))


def refused(_server: HostileServer, _secret: Path) -> Handler:
    return redirect(f"http://127.0.0.1:{free_port()}/article")


# Pages that cannot be fetched or read: the article is stored with the feed entry's text.
FALLBACKS: dict[str, PageFault] = {
    "page-over-max-bytes": PageFault(fixed(endless("text/html")), "BodyTooLargeError"),
    "page-gzip-bomb": PageFault(fixed(gzip_bomb(64 * 1024 * 1024)), "BodyTooLargeError"),
    "page-drip": PageFault(fixed(drip(ARTICLE, every=0.2)), "FetchTimeoutError"),
    "page-reset-mid-body": PageFault(fixed(reset_mid_body(ARTICLE)), "NetworkError"),
    "page-hang-up": PageFault(fixed(hang_up), "NetworkError"),
    "page-empty-200": PageFault(fixed(respond(b"")), "extraction:"),
    "page-pdf": PageFault(
        fixed(respond(PDF, content_type="application/pdf")), "page is application/pdf, not HTML"
    ),
    "page-image": PageFault(
        fixed(respond(PNG, content_type="image/png")), "page is image/png, not HTML"
    ),
    "page-image-labelled-html": PageFault(fixed(respond(PNG)), "extraction:"),
    "page-garbage-untyped": PageFault(
        fixed(respond(os.urandom(8192), content_type=None)), "page is no content type, not HTML"
    ),
    "page-redirect-loop": PageFault(redirect_loop, "TooManyRedirectsError"),
    "page-six-redirects": PageFault(six_redirects, "TooManyRedirectsError"),
    "page-403": PageFault(status(403), "HTTPStatusError: HTTP 403"),
    "page-404": PageFault(status(404), "HTTPStatusError: HTTP 404"),
    "page-410": PageFault(status(410), "HTTPStatusError: HTTP 410"),
    "page-429": PageFault(status(429), "HTTPStatusError: HTTP 429"),
    "page-500": PageFault(status(500), "HTTPStatusError: HTTP 500"),
    "page-connection-refused": PageFault(refused, "NetworkError"),
    "page-10mb-single-line-of-links": PageFault(
        lambda _s, _p: respond(single_line_of_links()), "page has more than 20000 elements"
    ),
    "page-jsoup-500k-tags-1646": PageFault(
        lambda _s, _p: corpus_page("1646.html")(_s, _p), "extraction:"
    ),
}


def invalid_utf8_page() -> bytes:
    # Declared UTF-8, with a lone 0xFF byte (never valid in UTF-8) in the article.
    return ARTICLE.replace(b"Islamabad", b"Islamabad \xff")


def wrong_charset_page() -> Handler:
    # The body is UTF-8 (and says so in <meta>); the header claims Latin-1.
    body = article_html("Société Générale and NDC", ["Société Générale — café. " + NDC_STORY[0]])
    return respond(body + b"", content_type="text/html; charset=iso-8859-1")


def single_line_page() -> bytes:
    page = ARTICLE.decode().replace("\n", " ")
    script = "<script>var x='" + "a" * (10 * 1024 * 1024) + "';</script>"
    return page.replace("</head>", script + "</head>").encode()


def single_line_of_links() -> bytes:
    """10 MB on one line, 200,000 navigation links: extraction would take minutes."""
    links = '<li><a href="/section/x">Section link</a></li>' * (10 * 1024 * 1024 // 48)
    page = ARTICLE.decode().replace("\n", " ")
    return page.replace("</footer>", f"<ul>{links}</ul></footer>").encode()


def nested_divs(depth: int) -> bytes:
    article = "".join(f"<p>{paragraph}</p>" for paragraph in NDC_STORY)
    return (f"<html><body>{'<div>' * depth}{article}{'</div>' * depth}</body></html>").encode()


def xxe_page(_server: HostileServer, secret: Path) -> Handler:
    body = (
        f'<?xml version="1.0"?><!DOCTYPE html [<!ENTITY x SYSTEM "{secret.as_uri()}">]>'
        '<html xmlns="http://www.w3.org/1999/xhtml"><body><article>'
        + "".join(f"<p>{paragraph} &x;</p>" for paragraph in NDC_STORY)
        + "</article></body></html>"
    ).encode()
    return respond(body, content_type="application/xhtml+xml")


def corpus_page(name: str) -> Callable[[HostileServer, Path], Handler]:
    """A page of the shared corpus (its cases are skipped where the corpus is missing)."""
    path = JSOUP_FUZZ / name
    return fixed(respond(path.read_bytes()) if path.exists() else not_found)


def with_corpus(cases: Iterable[str]) -> list[Any]:
    """The cases, those that serve a corpus page marked as needing the corpora."""
    needs = corpora.needs(JSOUP_FUZZ)
    return [pytest.param(case, marks=needs) if "jsoup" in case else case for case in cases]


# Pages that are odd but must not break anything: stored from the page or the feed, whichever
# gives text; the test checks what each must contain.
SURVIVABLE: dict[str, tuple[Callable[[HostileServer, Path], Handler], str | None]] = {
    "page-invalid-utf8": (fixed(respond(invalid_utf8_page())), "Executive Order 13382"),
    "page-wrong-charset-header": (lambda _s, _p: wrong_charset_page(), "Société Générale"),
    "page-10mb-single-line": (fixed(respond(single_line_page())), "Executive Order 13382"),
    "page-100k-nested-divs": (fixed(respond(nested_divs(100_000))), None),
    "page-xxe-local-file": (xxe_page, None),
    "page-binary-garbage-as-html": (fixed(respond(os.urandom(64 * 1024))), None),
    "page-jsoup-deep-nesting-1695": (corpus_page("1695.html"), None),
    "page-jsoup-130k-tags-1640": (corpus_page("1640.html"), None),
    "page-jsoup-giant-attribute-1580": (corpus_page("1580-attrname.html"), None),
    "page-jsoup-stack-overflow": (corpus_page("so-proc16.html"), None),
    "page-jsoup-garble": (corpus_page("garble.html"), None),
}


def summary_of(case: str) -> str:
    return f"{case}: {SUMMARY}"


class Collected(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[tuple[str, str]] = []  # (url, message)

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((str(getattr(record, "url", "")), record.getMessage()))


@dataclass(frozen=True)
class PageRun:
    server: HostileServer
    config: Path
    links: dict[str, str]  # case -> article link
    log: list[tuple[str, str]]


@pytest.fixture(scope="module", params=ENGINES)
def page_run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PageRun]:
    directory = tmp_path_factory.mktemp("page-faults")
    secret = directory / "secret.txt"
    secret.write_text(SECRET, encoding="utf-8")
    collected = Collected()
    logger = logging.getLogger("pipeline")
    logger.addHandler(collected)
    previous_level = logger.level
    logger.setLevel(logging.INFO)
    with serve() as server, database_url(request.param, directory) as database:
        items, links = [], {}
        routes = {name: fault.route for name, fault in FALLBACKS.items()}
        routes |= {name: route for name, (route, _) in SURVIVABLE.items()}
        for case, route in routes.items():
            server.route(f"/page/{case}", route(server, secret))
            links[case] = server.url(f"/page/{case}")
            items.append(rss_item(links[case], f"Title {case}").replace(SUMMARY, summary_of(case)))
        server.route("/pages.xml", respond(rss_document(items), content_type=RSS_TYPE))
        feeds = [add_healthy_feed(server), {"name": PAGES_FEED, "url": server.url("/pages.xml")}]
        config = write_config(
            directory,
            database,
            feeds,
            fetch={"deadline": DEADLINE, "timeout": 3, "max_bytes": MAX_BYTES},
        )
        try:
            run_once(config)
            yield PageRun(server, config, links, collected.lines)
        finally:
            logger.removeHandler(collected)
            logger.setLevel(previous_level)


def stored_article(run: PageRun, case: str) -> tuple[str, str]:
    found = rows(
        run.config,
        "SELECT text_source, text FROM article WHERE url = :url",
        url=run.links[case],
    )
    assert len(found) == 1, f"{case}: {len(found)} articles stored"
    text_source, text = found[0]
    return str(text_source), str(text)


@pytest.mark.parametrize("case", with_corpus(FALLBACKS))
def test_unreadable_page_falls_back_to_the_feed_text(page_run: PageRun, case: str) -> None:
    text_source, text = stored_article(page_run, case)

    assert (text_source, text) == ("feed", summary_of(case))
    reasons = [message for url, message in page_run.log if url == page_run.links[case]]
    assert any(
        "using the feed's text" in message and FALLBACKS[case].reason in message
        for message in reasons
    ), reasons


@pytest.mark.parametrize("case", with_corpus(SURVIVABLE))
def test_odd_page_is_stored_readably(page_run: PageRun, case: str) -> None:
    text_source, text = stored_article(page_run, case)
    must_contain = SURVIVABLE[case][1]

    if must_contain is not None:
        assert text_source == "page"
        assert must_contain in text
    assert "\ufffd" * 3 not in text  # no run of replacement characters stored as "text"
    assert len(text) < 200_000


def test_pages_feed_and_healthy_feed_succeed(page_run: PageRun) -> None:
    state = feed_state(page_run.config, PAGES_FEED)
    assert (state["status"], state["last_error"]) == ("ok", None)
    assert_healthy_feed_ingested(page_run.config)
    assert_consistent(page_run.config)


def test_page_xxe_reads_no_file(page_run: PageRun) -> None:
    assert SECRET not in everything_stored(page_run.config)
