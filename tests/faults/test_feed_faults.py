"""Hostile feeds, end to end: one `run --once` over a config of ~40 broken and hostile feeds
plus a healthy one, all served by the hostile server on 127.0.0.1.

Each case asserts a clear error recorded against its feed (feed.last_error and the
fetch_attempt row), the healthy feed is ingested in the same run, and the database is
consistent afterwards. XML attacks also prove that no file content is stored and no request
leaves for an entity or DTD URL.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_once
from tests.faults.hostile import (
    Handler,
    HostileServer,
    drip,
    endless,
    free_port,
    gzip_bomb,
    hang_up,
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
    attempts,
    everything_stored,
    feed_state,
    rows,
    rss_document,
    rss_item,
    write_config,
)
from tests.site import article_html
from tests.test_ingest_e2e import NDC_STORY

SECRET = "SECRET-FILE-CONTENT-9f2c1e"  # the content of a local file an XXE tries to read
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06" + b"\0" * 64
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
RETRY_AFTER_SECONDS = 7200
DEADLINE = 4.0  # the drip never finishes; 12 MB bodies on a busy machine do
MAX_BYTES = 12 * 1024 * 1024  # room for the 10 MB single-line feed


@dataclass(frozen=True)
class Scene:
    server: HostileServer
    secret_file: Path

    def entity_url(self, name: str) -> str:
        return self.server.url(f"/entity/{name}")


Route = Callable[[Scene], Handler]


@dataclass(frozen=True)
class FeedFault:
    route: Route
    error: str  # what feed.last_error must say
    status: str = "ok"  # the feed's status after one failure


def xml_feed(prolog: str, title: str = "&x;") -> Route:
    """A feed whose prolog is hostile; {file} and {url:NAME} are filled in per run."""

    def build(scene: Scene) -> Handler:
        filled = prolog.replace("{file}", scene.secret_file.as_uri())
        for name in ("a", "b", "dtd"):
            filled = filled.replace(f"{{url:{name}}}", scene.entity_url(name))
        item = rss_item(scene.server.url("/never"), title)
        return respond(rss_document([item], prolog=filled), content_type=RSS_TYPE)

    return build


def fixed(handler: Handler) -> Route:
    return lambda _scene: handler


def loop_301(scene: Scene) -> Handler:
    return redirect(scene.server.url("/feed/redirect-loop-301"), 301)


def loop_302_a(scene: Scene) -> Handler:
    scene.server.route("/loop/b", redirect(scene.server.url("/feed/redirect-loop-302"), 302))
    return redirect(scene.server.url("/loop/b"), 302)


def six_redirects(scene: Scene) -> Handler:
    for hop in range(1, 7):
        scene.server.route(f"/hop/{hop}", redirect(scene.server.url(f"/hop/{hop + 1}")))
    scene.server.route("/hop/7", respond(rss_document([]), content_type=RSS_TYPE))
    return redirect(scene.server.url("/hop/1"))


def refused_port(_scene: Scene) -> Handler:
    return redirect(f"http://127.0.0.1:{free_port()}/feed.xml")


def status(code: int, headers: dict[str, str] | None = None) -> Route:
    return fixed(respond(b"<html><body>no</body></html>", status=code, headers=headers))


def retry_after_date(_scene: Scene) -> Handler:
    """503 with Retry-After as an HTTP date two hours ahead (of the run, not of the import)."""
    when = datetime.now(UTC) + timedelta(seconds=RETRY_AFTER_SECONDS)
    headers = {"Retry-After": format_datetime(when, usegmt=True)}
    return respond(b"<html><body>no</body></html>", status=503, headers=headers)


REFUSED = "FeedParseError: feed declares XML entities; refused"
BILLION_LAUGHS = (
    '<!DOCTYPE rss [<!ENTITY a0 "dos"><!ENTITY a1 "&a0;&a0;&a0;&a0;&a0;&a0;&a0;&a0;&a0;&a0;">'
    + "".join(f'<!ENTITY a{n} "{"".join(f"&a{n - 1};" for _ in range(10))}">' for n in range(2, 10))
    + '<!ENTITY x "&a9;">]>'
)
QUADRATIC = f'<!DOCTYPE rss [<!ENTITY x "{"B" * 50_000}">]>'

FAULTS: dict[str, FeedFault] = {
    # XML attacks
    "xxe-local-file": FeedFault(xml_feed('<!DOCTYPE rss [<!ENTITY x SYSTEM "{file}">]>'), REFUSED),
    "xxe-etc-passwd": FeedFault(
        xml_feed('<!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>'), REFUSED
    ),
    "xxe-url": FeedFault(xml_feed('<!DOCTYPE rss [<!ENTITY x SYSTEM "{url:a}">]>'), REFUSED),
    "xxe-public-id-url": FeedFault(
        xml_feed('<!DOCTYPE rss [<!ENTITY x PUBLIC "-//x//y" "{url:b}">]>'), REFUSED
    ),
    "xxe-parameter-entity-dtd": FeedFault(
        xml_feed('<!DOCTYPE rss [<!ENTITY % p SYSTEM "{url:dtd}"> %p;]>', "t"), REFUSED
    ),
    "billion-laughs": FeedFault(xml_feed(BILLION_LAUGHS), REFUSED),
    "quadratic-blowup": FeedFault(xml_feed(QUADRATIC, "&x;" * 20_000), REFUSED),
    "parameter-laughs": FeedFault(
        xml_feed('<!DOCTYPE rss [<!ENTITY % a "<!---->"><!ENTITY % b "&#37;a;&#37;a;"> %b;]>', "t"),
        REFUSED,
    ),
    "300k-nested-elements": FeedFault(
        xml_feed("", "t" + "<x>" * 300_000 + "</x>" * 300_000),
        "elements, more than 250000; refused",
    ),
    # bodies
    "body-over-max-bytes": FeedFault(fixed(endless()), "BodyTooLargeError"),
    "content-length-over-max-bytes": FeedFault(
        fixed(respond(b"<rss/>", headers={"Content-Length": str(MAX_BYTES * 50)})),
        "BodyTooLargeError",
    ),
    "gzip-bomb": FeedFault(fixed(gzip_bomb(64 * 1024 * 1024, RSS_TYPE)), "BodyTooLargeError"),
    "drip-one-byte-at-a-time": FeedFault(
        fixed(drip(rss_document([]), every=0.2, content_type=RSS_TYPE)),
        f"FetchTimeoutError: {{url}}: no complete answer within {DEADLINE:g}s",
    ),
    "reset-mid-body": FeedFault(
        fixed(reset_mid_body(rss_document([rss_item("http://127.0.0.1/x")] * 50), RSS_TYPE)),
        "NetworkError",
    ),
    "hang-up-without-answer": FeedFault(fixed(hang_up), "NetworkError"),
    "empty-200": FeedFault(fixed(respond(b"", content_type=RSS_TYPE)), "the body is empty"),
    "pdf-instead-of-feed": FeedFault(
        fixed(respond(PDF, content_type="application/pdf")), "FeedParseError: not a feed"
    ),
    "image-instead-of-feed": FeedFault(
        fixed(respond(PNG, content_type="image/png")), "FeedParseError: not a feed"
    ),
    "binary-garbage": FeedFault(
        fixed(respond(os.urandom(4096), content_type=RSS_TYPE)), "FeedParseError: not a feed"
    ),
    "html-page-instead-of-feed": FeedFault(
        fixed(respond(b"<!doctype html><html><body><p>Hello</p></body></html>")),
        "FeedParseError: not a feed",
    ),
    "json-that-is-not-a-feed": FeedFault(
        fixed(respond(b'{"hello": "world"}', content_type="application/json")),
        "FeedParseError: not a feed",
    ),
    "deeply-nested-json": FeedFault(
        fixed(respond(b"{" + b'"a":[' * 100_000, content_type="application/feed+json")),
        "FeedParseError: not a feed: invalid JSON",
    ),
    # HTTP
    "redirect-loop-301": FeedFault(loop_301, "TooManyRedirectsError: redirect loop"),
    "redirect-loop-302": FeedFault(loop_302_a, "TooManyRedirectsError: redirect loop"),
    "six-redirects": FeedFault(six_redirects, "TooManyRedirectsError: more than 5 redirects"),
    "redirect-without-location": FeedFault(
        fixed(respond(status=302, content_type=None)), "redirect without a Location header"
    ),
    "http-403": FeedFault(status(403), "HTTPStatusError: HTTP 403 Forbidden"),
    "http-404": FeedFault(status(404), "HTTPStatusError: HTTP 404 Not Found"),
    "http-410": FeedFault(status(410), "HTTPStatusError: HTTP 410 Gone", status="gone"),
    "http-429-retry-after-seconds": FeedFault(
        status(429, {"Retry-After": str(RETRY_AFTER_SECONDS)}),
        "HTTPStatusError: HTTP 429 Too Many Requests",
    ),
    "http-503-retry-after-date": FeedFault(
        retry_after_date,
        "HTTPStatusError: HTTP 503 Service Unavailable",
    ),
    "http-500": FeedFault(status(500), "HTTPStatusError: HTTP 500 Internal Server Error"),
    "connection-refused": FeedFault(refused_port, "NetworkError"),
}


def surviving_feed(prolog: str = "", title: str = "t", **respond_options: Any) -> Route:
    """A readable feed, odd in some way: its one entry must be stored."""

    def build(scene: Scene) -> Handler:
        filled = prolog.replace("{file}", scene.secret_file.as_uri())
        filled = filled.replace("{url:dtd}", scene.entity_url("external-dtd"))
        link = scene.server.url(f"/article/{len(scene.server.routes)}")
        scene.server.route(link.removeprefix(scene.server.url("")), respond(ARTICLE))
        body = rss_document([rss_item(link, title)], prolog=filled)
        options = {"content_type": RSS_TYPE} | respond_options
        if "transform" in options:
            body = options.pop("transform")(body)
        return respond(body, **options)

    return build


def ten_mb_single_line(body: bytes) -> bytes:
    words = "Officials in Karachi said the review would go on. " * (9_990_000 // 51)
    return body.replace(SUMMARY.encode(), words.encode()).replace(b"\n", b" ")


def nested_divs_in_description(body: bytes) -> bytes:
    nested = b"<![CDATA[" + b"<div>" * 100_000 + b"deep" + b"</div>" * 100_000 + b"]]>"
    return body.replace(SUMMARY.encode(), nested)


ARTICLE = article_html("Missile body sanctioned", NDC_STORY)
SURVIVORS: dict[str, tuple[Route, str]] = {  # case -> (feed, the stored entry's title)
    "external-dtd-url": (surviving_feed('<!DOCTYPE rss SYSTEM "{url:dtd}">'), "t"),
    "external-dtd-local-file": (surviving_feed('<!DOCTYPE rss SYSTEM "{file}">'), "t"),
    "wrong-charset-header": (
        surviving_feed(title="Société Générale", content_type=f"{RSS_TYPE}; charset=iso-8859-1"),
        "Société Générale",
    ),
    "invalid-utf8": (
        surviving_feed(title="Karachi TRADER", transform=lambda b: b.replace(b"TRADER", b"\xff")),
        "Karachi \u00ff",
    ),
    "10mb-single-line": (surviving_feed(transform=ten_mb_single_line), "t"),
    "100k-nested-divs-in-description": (surviving_feed(transform=nested_divs_in_description), "t"),
    "gzip-encoded": (
        surviving_feed(
            title="zipped", transform=gzip.compress, headers={"Content-Encoding": "gzip"}
        ),
        "zipped",
    ),
}


@dataclass(frozen=True)
class HostileRun:
    server: HostileServer
    config: Path
    started: datetime
    feeds: dict[str, str]  # case -> feed URL


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileRun]:
    directory = tmp_path_factory.mktemp("feed-faults")
    secret_file = directory / "secret.txt"
    secret_file.write_text(SECRET, encoding="utf-8")
    with serve() as server:
        scene = Scene(server, secret_file)
        feeds = [add_healthy_feed(server)]
        urls = {}
        for name, fault in FAULTS.items():
            path = f"/feed/{name}"
            server.route(path, fault.route(scene))
            urls[name] = server.url(path)
            feeds.append({"name": name, "url": urls[name]})
        for name, (route, _title) in SURVIVORS.items():
            server.route(f"/feed/{name}", route(scene))
            feeds.append({"name": name, "url": server.url(f"/feed/{name}")})
        config = write_config(
            directory,
            f"sqlite:///{directory / 'pipeline.db'}",
            feeds,
            fetch={"deadline": DEADLINE, "timeout": 3, "max_bytes": MAX_BYTES},
        )
        started = datetime.now(UTC).replace(tzinfo=None)
        run_once(config)
        yield HostileRun(server, config, started, urls)


@pytest.mark.parametrize("case", FAULTS)
def test_fault_is_recorded_against_its_feed(hostile_run: HostileRun, case: str) -> None:
    fault = FAULTS[case]
    state = feed_state(hostile_run.config, case)
    expected = fault.error.replace("{url}", hostile_run.feeds[case])

    assert expected in (state["last_error"] or ""), state["last_error"]
    assert state["status"] == fault.status
    assert state["consecutive_failures"] == 1
    assert state["last_success_at"] is None
    (attempt,) = attempts(hostile_run.config, case)
    assert attempt["outcome"] == "error"
    assert attempt["error"] == state["last_error"]
    assert state["next_poll_at"] > hostile_run.started  # backed off, not polled in a loop


@pytest.mark.parametrize("case", SURVIVORS)
def test_odd_but_readable_feed_is_ingested(hostile_run: HostileRun, case: str) -> None:
    state = feed_state(hostile_run.config, case)
    assert (state["status"], state["last_error"]) == ("ok", None)
    titles = rows(
        hostile_run.config,
        "SELECT a.title FROM article a JOIN feed f ON f.id = a.feed_id WHERE f.name = :name",
        name=case,
    )
    assert titles == [(SURVIVORS[case][1],)]


def test_run_went_on_and_stored_nothing_broken(hostile_run: HostileRun) -> None:
    assert_healthy_feed_ingested(hostile_run.config)
    assert_consistent(hostile_run.config)
    stored_feeds = {
        row["name"] for row in [feed_state(hostile_run.config, name) for name in FAULTS]
    }
    assert stored_feeds == set(FAULTS)


def test_xml_attacks_never_read_files_nor_fetch_entity_urls(hostile_run: HostileRun) -> None:
    stored = everything_stored(hostile_run.config)
    assert SECRET not in stored
    assert "root:x:0:0" not in stored
    assert "dosdos" not in stored and "BBBBBBBBBB" not in stored
    assert hostile_run.server.hits("/never") == []  # no entry of a refused feed was fetched
    for name in ("a", "b", "dtd", "external-dtd"):
        assert hostile_run.server.hits(f"/entity/{name}") == []


@pytest.mark.parametrize(
    ("case", "seconds"),
    [("http-429-retry-after-seconds", RETRY_AFTER_SECONDS), ("http-503-retry-after-date", 3600)],
)
def test_retry_after_sets_the_next_poll(hostile_run: HostileRun, case: str, seconds: int) -> None:
    state = feed_state(hostile_run.config, case)
    # The interval (15 min, no jitter) would come back far sooner than the server asked.
    assert state["next_poll_at"] >= hostile_run.started + timedelta(seconds=seconds)


def test_first_failure_backs_off_one_interval(hostile_run: HostileRun) -> None:
    state = feed_state(hostile_run.config, "http-500")
    delay = state["next_poll_at"] - state["last_attempt_at"]
    assert timedelta(minutes=14) < delay < timedelta(minutes=16)
