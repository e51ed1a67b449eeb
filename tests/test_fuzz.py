"""Fuzzing (hypothesis) of the two parsers of untrusted text: the feed parser and the URL
canonicaliser. A modest number of examples per run keeps this to seconds; every CI run tries
new ones.

parse_feed: any bytes give a ParsedFeed or a FeedParseError, never another exception and
never a connection; entries are plain, one-line titles, absolute http(s) links or None, UTC
dates, no control characters or lone surrogates (which no database stores).
canonicalize: any text gives an ASCII http(s) URL or an InvalidURLError; canonical URLs are
fixed points; fragments, userinfo, default ports and tracking parameters are gone.
"""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Iterator
from datetime import UTC
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.core.errors import FeedParseError, InvalidURLError
from pipeline.core.urls import TRACKING_PARAMETERS, canonicalize
from pipeline.sources.feeds import parse_feed

# FUZZ_SCALE=20 pytest tests/test_fuzz.py: a longer hunt (e.g. nightly), same properties.
SCALE = int(os.environ.get("FUZZ_SCALE", "1"))
FUZZ = settings(
    max_examples=150 * SCALE,
    deadline=None,
    database=None,  # no .hypothesis/ directory in the work tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
BASE = "http://127.0.0.1:9/feeds/news.xml"
UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


@pytest.fixture
def no_connections(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    attempts: list[object] = []

    def refuse(_socket: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError("no connections while fuzzing")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    yield attempts
    assert attempts == []


# ---- feed documents ---------------------------------------------------------------------------

# Text that feeds carry: any character, and a good share of the ones that break things.
nasty_text = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(list("<>&;\"'\x00\x07\x1b\u2028\ufeff\ufffd\U0001f600")),
    ),
    max_size=40,
)
links = st.one_of(
    st.just(""),
    nasty_text,
    st.sampled_from(
        [
            "/relative/path",
            "../up",
            "//127.0.0.1:9/scheme-relative",
            "javascript:alert(1)",
            "data:text/html,x",
            "http://[::1",
            "http://127.0.0.1:99999/",
            "https://例え.テスト/記事?utm_source=x#frag",
            "HTTP://User:Pass@127.0.0.1:80/a/./b/../c?b=2&a=1",
        ]
    ),
)
dates = st.one_of(
    nasty_text,
    st.sampled_from(
        [
            "Mon, 06 Jan 2025 10:00:00 GMT",
            "Sat, 01 Jan 2300 00:00:00 GMT",
            "2025-13-45T99:99:99Z",
            "mer, 16 nov 2022 12:00:00 +0100",
            "0000-00-00",
            "Fri, 31 Dec 9999 23:59:59 +2359",
        ]
    ),
)


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@st.composite
def rss_documents(draw: st.DrawFn) -> bytes:
    items = []
    for _ in range(draw(st.integers(0, 4))):
        title, link, date, guid = draw(nasty_text), draw(links), draw(dates), draw(nasty_text)
        raw = draw(st.booleans())  # raw: markup and entities as the feed author wrote them
        field = (lambda text: text) if raw else escape
        items.append(
            f"<item><title>{field(title)}</title><link>{field(link)}</link>"
            f"<guid>{field(guid)}</guid><pubDate>{field(date)}</pubDate>"
            f"<description>{field(draw(nasty_text))}</description></item>"
        )
    prolog = draw(
        st.sampled_from(
            [
                "",
                '<?xml version="1.0" encoding="utf-8"?>',
                '<?xml version="1.0" encoding="iso-8859-1"?>',
                '<!DOCTYPE rss SYSTEM "http://127.0.0.1:9/evil.dtd">',
                '<!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
                '<!DOCTYPE rss [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>',
            ]
        )
    )
    body = f'{prolog}<rss version="2.0"><channel><title>t</title>{"".join(items)}</channel></rss>'
    encoding = draw(st.sampled_from(["utf-8", "utf-16", "latin-1"]))
    return body.encode(encoding, errors="replace")


@st.composite
def json_feeds(draw: st.DrawFn) -> bytes:
    value = st.one_of(nasty_text, st.integers(), st.none(), st.booleans(), st.lists(nasty_text))
    items = draw(
        st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "id": value,
                    "url": st.one_of(links, value),
                    "title": value,
                    "content_html": value,
                    "content_text": value,
                    "summary": value,
                    "date_published": st.one_of(dates, value),
                },
            ),
            max_size=4,
        )
    )
    document = {"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": items}
    return json.dumps(document).encode()  # lone surrogates travel escaped, as "\ud800"


def check_parsed(body: bytes, content_type: str | None = None) -> None:
    try:
        parsed = parse_feed(body, base_url=BASE, content_type=content_type)
    except FeedParseError:
        return
    for entry in parsed.entries:
        assert entry.link is None or re.match(r"https?://", entry.link), entry.link
        assert "\n" not in entry.title and entry.title == entry.title.strip()
        for text in (entry.title, entry.summary, entry.content, entry.guid or "", entry.link or ""):
            assert not UNSTORABLE.search(text), repr(text)
        assert entry.published is None or entry.published.tzinfo == UTC
        assert "root:" not in entry.title + entry.summary  # no /etc/passwd
        assert "aaaaaaaa" not in entry.title + entry.summary  # no entity expansion


@FUZZ
@given(
    body=rss_documents(),
    content_type=st.sampled_from([None, "application/rss+xml", "text/xml; charset=utf-8"]),
)
def test_rss_documents_parse_or_raise_feed_parse_error(
    body: bytes, content_type: str | None, no_connections: list[object]
) -> None:
    check_parsed(body, content_type)


@FUZZ
@given(body=json_feeds())
def test_json_feeds_parse_or_raise_feed_parse_error(
    body: bytes, no_connections: list[object]
) -> None:
    check_parsed(body, "application/feed+json")


@FUZZ
@given(body=st.binary(max_size=2048))
def test_any_bytes_parse_or_raise_feed_parse_error(
    body: bytes, no_connections: list[object]
) -> None:
    check_parsed(body)


@FUZZ
@given(
    prefix=st.sampled_from(
        [
            b"<?xml version='1.0'?><rss",
            b'{"version": "https://jsonfeed.org/version/1"',
            b"<feed xmlns='http://www.w3.org/2005/Atom'>",
        ]
    ),
    tail=st.binary(max_size=1024),
)
def test_feed_like_garbage_parses_or_raises_feed_parse_error(
    prefix: bytes, tail: bytes, no_connections: list[object]
) -> None:
    check_parsed(prefix + tail)


# ---- URLs -------------------------------------------------------------------------------------

hosts = st.one_of(
    st.from_regex(r"[a-z0-9-]{1,12}(\.[a-z0-9-]{1,12}){0,3}", fullmatch=True),
    st.sampled_from(
        [
            "127.0.0.1",
            "[::1]",
            "[2001:db8::1]",
            "例え.テスト",
            "xn--r8jz45g.xn--zckzah",
            "EXAMPLE.org.",
            "a_b.example",
            "ß.de",
            "1.2.3",
        ]
    ),
    nasty_text,
)
path_text = st.text(
    alphabet=st.one_of(st.characters(codec="utf-8"), st.sampled_from(list("/%.?#;=&+ ~"))),
    max_size=30,
)
query_names = st.one_of(
    st.sampled_from(["utm_source", "UTM_Medium", "fbclid", "gclid", "id", "page", "q", "%75tm_x"]),
    st.text(alphabet="abcdefgh_%=", min_size=1, max_size=6),
)


@st.composite
def urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "HtTpS", "ftp", "javascript", ""]))
    userinfo = draw(st.sampled_from(["", "user@", "user:pass@", "@"]))
    port = draw(st.sampled_from(["", ":80", ":443", ":8080", ":0", ":65535", ":99999", ":x"]))
    pairs = draw(st.lists(st.tuples(query_names, path_text), max_size=4))
    query = "&".join(f"{name}={value}" for name, value in pairs)
    fragment = draw(st.sampled_from(["", "#top", "#" + draw(path_text)]))
    return (
        f"{scheme}://{userinfo}{draw(hosts)}{port}/{draw(path_text)}"
        + (f"?{query}" if query else "")
        + fragment
    )


def check_canonical(url: str) -> None:
    try:
        canonical = canonicalize(url)
    except InvalidURLError:
        return
    assert canonical.isascii(), canonical
    assert re.match(r"https?://[^/?#@]+(/|$)", canonical), canonical
    assert "#" not in canonical
    parts = urlsplit(canonical)
    assert parts.port not in ({"http": 80, "https": 443}[parts.scheme],)
    for pair in filter(None, parts.query.split("&")):
        name = pair.partition("=")[0].lower()
        assert name not in TRACKING_PARAMETERS and not name.startswith("utm_"), canonical
    assert canonicalize(canonical) == canonical  # a fixed point


@settings(FUZZ, max_examples=300 * SCALE)
@given(url=urls())
def test_structured_urls_canonicalise_to_fixed_points(url: str) -> None:
    check_canonical(url)


@settings(FUZZ, max_examples=300 * SCALE)
@given(url=st.text(max_size=80))
def test_any_text_canonicalises_or_raises_invalid_url(url: str) -> None:
    check_canonical(url)


@settings(FUZZ, max_examples=200 * SCALE)
@given(url=urls(), noise=st.sampled_from(["?utm_source=x", "#section", ""]))
def test_tracking_and_fragment_variants_share_a_canonical_url(url: str, noise: str) -> None:
    try:
        canonical = canonicalize(url)
    except InvalidURLError:
        return
    if "?" in canonical or "#" in url:
        return  # appending would change the query or land in the fragment
    assert canonicalize(canonical + noise) == canonical
