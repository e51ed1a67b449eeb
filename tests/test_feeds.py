"""pipeline.sources.feeds against real captured feeds, parser test suites and hostile XML.

Expected values come from the corpora themselves: rss-parser's and feed-rs's expected outputs,
feedparser's "Expect:" header comments and JSON Feed's ``__TEST__`` note. The hostile XML
files are parsed with every outgoing connection recorded and refused, and once more against a
loopback server that would serve the DTD and entities, to show that nothing is fetched.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from pipeline.core.errors import FeedParseError
from pipeline.core.records import ParsedFeed
from pipeline.sources.feeds import html_to_text, parse_feed
from tests import corpora

# shared/ sits beside the work tree (and beside CI's fresh clone); PIPELINE_CORPORA overrides.
CORPORA = corpora.CORPORA
FEEDS = CORPORA / "feeds"
REAL_NEWS = FEEDS / "real-news"
MINIFLUX = FEEDS / "miniflux-testdata" / "parser"
FEEDPARSER_TESTS = FEEDS / "feedparser-tests"
HOSTILE_XML = CORPORA / "hostile" / "xml-entity-attacks"
BASE = "https://feeds.example.org/news/feed.xml"

pytestmark = corpora.needs(CORPORA)


def parse_file(path: Path, content_type: str | None = None) -> ParsedFeed:
    return parse_feed(path.read_bytes(), base_url=BASE, content_type=content_type)


def load_json(path: Path) -> Any:
    raw = path.read_bytes()
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:  # rss-parser's encoding.json was written in ISO-8859-1
        return json.loads(raw.decode("latin-1"))


def one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def rss(items: str, *, prolog: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>{prolog}<rss version="2.0"><channel>'
        f"<title>Test feed</title><link>https://example.org/</link>{items}</channel></rss>"
    ).encode()


# --- real feeds against other parsers' expected output ---------------------------------------


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("guardian", "guardian.rss"),  # RSS 2.0
        ("heise", "heise.atom"),  # Atom 1.0
        ("reddit", "reddit.rss"),
        ("encoding", "encoding.rss"),  # ISO-8859-1
    ],
)
def test_rss_parser_expected_titles_and_links(name: str, source: str) -> None:
    expected = load_json(REAL_NEWS / "rss-parser" / "expected" / f"{name}.json")["feed"]
    parsed = parse_file(REAL_NEWS / "rss-parser" / source)

    assert parsed.title == one_line(expected["title"])
    assert len(parsed.entries) == len(expected["items"])
    assert [entry.title for entry in parsed.entries] == [
        one_line(item.get("title")) for item in expected["items"]
    ]
    assert [entry.link for entry in parsed.entries] == [item["link"] for item in expected["items"]]
    assert parsed.warning is None


def test_rss_parser_windows_1252_feed_decodes_better_than_expected_output() -> None:
    # rss-parser's own expected output has U+FFFD where the feed has "ç" and "ã".
    expected = load_json(REAL_NEWS / "rss-parser" / "expected" / "uolNoticias.json")["feed"]
    parsed = parse_file(REAL_NEWS / "rss-parser" / "uolNoticias.rss")

    assert [entry.link for entry in parsed.entries] == [item["link"] for item in expected["items"]]
    assert parsed.entries[0].title == (
        "Ibope: Bolsonaro perde de Haddad, Ciro e Alckmin em simulações de 2º turno"
    )
    assert not any("\ufffd" in entry.title for entry in parsed.entries)


@pytest.mark.parametrize(
    "name",
    sorted(path.name.split(".serde")[0] for path in (REAL_NEWS / "feed-rs/expected").glob("*")),
)
def test_feed_rs_expected_entries(name: str) -> None:
    expected = load_json(REAL_NEWS / "feed-rs" / "expected" / f"{name}.serde.json")
    parsed = parse_file(REAL_NEWS / "feed-rs" / f"{name}.xml")

    assert parsed.title == one_line(expected["title"]["content"])
    assert len(parsed.entries) == len(expected["entries"])
    for entry, want in zip(parsed.entries, expected["entries"], strict=True):
        assert entry.title == one_line(want["title"]["content"])
        assert entry.link == want["links"][0]["href"]
        if want["published"] is not None:  # feed-rs gives up on "Sat, Dec 16 2023 02:02 PM"
            assert entry.published == datetime.fromisoformat(want["published"])


def test_rdf_feeds() -> None:
    debian = parse_file(REAL_NEWS / "feed-rs" / "rss_1.0_debian.xml")
    assert debian.entries[0].summary.startswith("The Debian project is pleased to announce")

    deutsche_welle = parse_file(
        REAL_NEWS / "fastfeedparser" / "dw-english-rdf__14dda539770f94e3.xml"
    )
    assert deutsche_welle.title == "Deutsche Welle"
    assert len(deutsche_welle.entries) == 141
    assert all(entry.link and entry.link.startswith("https://") for entry in deutsche_welle.entries)

    heise = parse_file(MINIFLUX / "rdf_UTF8.xml")
    assert len(heise.entries) == 60
    assert all(entry.title and entry.link for entry in heise.entries)


@pytest.mark.parametrize(
    "relative",
    [
        "rdf/rdf_item_link.xml",
        "rss/item_link.xml",
        "rss/item_guid_map_link.xml",
        "rss/item_guid_conflict_link.xml",
        "rss/item_guid_isPermaLink_map_link.xml",
        "atom10/entry_link_alternate_map_link.xml",
        "atom10/entry_link_no_href_link_priority.xml",
    ],
)
def test_feedparser_suite_link_expectations(relative: str) -> None:
    path = FEEDPARSER_TESTS / "wellformed" / relative
    expect = re.search(
        r"entries\[0\]\['link'\] ==(?: entries\[1\]\['link'\] ==)? '([^']*)'",
        path.read_text(encoding="utf-8"),
    )
    assert expect is not None, "the file states its expected link"

    assert parse_file(path).entries[0].link == expect.group(1)


def test_miniflux_windows_1251_feed_decodes() -> None:
    parsed = parse_file(MINIFLUX / "encoding_WINDOWS-1251.xml")
    assert parsed.title == "iBash.Org.Ru"
    assert len(parsed.entries) == 50
    first = parsed.entries[0]
    assert first.title == "Цитата #17703"
    assert first.summary.startswith("xxx: есть у кого жаба программер\nxxx: кот немного пхп знает?")
    assert first.published == datetime(2018, 3, 21, 7, 27, 32, tzinfo=UTC)  # +0300 -> UTC


def test_miniflux_iso_8859_1_feeds_decode() -> None:
    declared = parse_file(MINIFLUX / "encoding_ISO-8859-1.xml")
    assert "Viele Spieler wünschen sich eine PC-Version" in declared.entries[0].summary

    undeclared = parse_file(MINIFLUX / "no_encoding_ISO-8859-1.xml")
    assert "nombre d'études montrent" in undeclared.entries[0].summary
    assert undeclared.warning is not None  # bytes did not match the UTF-8 default: said so


def test_urdu_feed_keeps_its_script() -> None:
    parsed = parse_file(MINIFLUX / "urdu_UTF8.xml")
    assert parsed.title.startswith("BBC News اردو")
    assert parsed.entries[0].title.startswith("امریکی عسکری امداد")


# --- JSON Feed --------------------------------------------------------------------------------


def test_json_feed_from_feedparser_suite() -> None:
    path = FEEDPARSER_TESTS / "json" / "example.json"
    assert "len(entries) == 2" in json.loads(path.read_text())["__TEST__"]

    parsed = parse_file(path, content_type="application/feed+json")

    assert parsed.title == "My Example Feed"
    assert [entry.guid for entry in parsed.entries] == ["2", "1"]
    assert parsed.entries[0].link == "https://example.org/second-item"
    assert parsed.entries[0].content == "This is a second item."
    assert parsed.entries[1].content == "Hello, world!"  # HTML stripped, the <script> dropped


def test_real_json_feed() -> None:
    parsed = parse_file(
        REAL_NEWS / "fastfeedparser" / "jsonfeed-humanwhocodes__d4b7ab74da763119.json"
    )
    assert parsed.title == "Human Who Codes"
    assert len(parsed.entries) == 10
    assert all(entry.link and entry.link.startswith("https://") for entry in parsed.entries)
    assert all(entry.published and entry.published.tzinfo == UTC for entry in parsed.entries)


def test_json_feed_fields_and_relative_links() -> None:
    body = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "  Example\n JSON  ",
            "items": [
                {
                    "id": 42,
                    "url": "/posts/42",
                    "title": "A\u0007 title",
                    "date_published": "2024-05-01T12:00:00+02:00",
                    "summary": "Short.",
                    "content_html": "<p>First &amp; foremost.</p><p>Second.</p>",
                },
                {"id": "x", "url": "javascript:alert(1)", "date_published": "yesterday"},
                {"id": "y", "external_url": "https://elsewhere.example/y"},
                "not an object",
            ],
        }
    ).encode()

    parsed = parse_feed(body, base_url=BASE)

    first, second, third = parsed.entries
    assert parsed.title == "Example JSON"
    assert first == first.__class__(
        link="https://feeds.example.org/posts/42",
        guid="42",
        title="A title",
        published=datetime(2024, 5, 1, 10, 0, tzinfo=UTC),
        summary="Short.",
        content="First & foremost.\n\nSecond.",
    )
    assert second.link is None and second.published is None
    assert third.link == "https://elsewhere.example/y"
    assert parsed.warning == "1 JSON Feed items are not objects"


@pytest.mark.parametrize(
    "body",
    [
        b'{"title": "no version", "items": []}',
        b"{not json",
        b'{"version": "https://jsonfeed.org/version/1"}',
    ],
)
def test_json_that_is_not_a_json_feed_is_refused(body: bytes) -> None:
    with pytest.raises(FeedParseError, match="not a feed"):
        parse_feed(body, base_url=BASE)


# --- entries: links, titles, dates, text ------------------------------------------------------


def test_relative_links_are_resolved_against_the_feed_url() -> None:
    parsed = parse_feed(
        rss(
            "<item><title>a</title><link>/2024/story-a</link></item>"
            "<item><title>b</title><link>story-b.html</link></item>"
            "<item><title>c</title><link>//cdn.example.net/c</link></item>"
        ),
        base_url=BASE,
    )
    assert [entry.link for entry in parsed.entries] == [
        "https://feeds.example.org/2024/story-a",
        "https://feeds.example.org/news/story-b.html",
        "https://cdn.example.net/c",
    ]


def test_atom_xml_base_is_honoured() -> None:
    body = (
        b'<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://blog.example.com/posts/">'
        b"<title>t</title><entry><title>e</title><id>urn:e</id>"
        b'<link rel="alternate" href="entry-1"/></entry></feed>'
    )
    assert (
        parse_feed(body, base_url=BASE).entries[0].link == "https://blog.example.com/posts/entry-1"
    )


@pytest.mark.parametrize(
    "link",
    ["javascript:alert(document.cookie)", "data:text/html,<b>x</b>", "mailto:desk@example.org"],
)
def test_non_http_links_are_dropped(link: str) -> None:
    body = rss(f"<item><title>t</title><link>{link.replace('<', '&lt;')}</link></item>")
    entry = parse_feed(body, base_url=BASE).entries[0]
    assert entry.link is None
    assert entry.title == "t"


def test_title_is_plain_one_line_text() -> None:
    body = rss(
        "<item><title>  Breaking:\n  &lt;b&gt;Rockside&lt;/b&gt; &amp;amp;   Co&#x7;  </title>"
        "<link>https://example.org/1</link></item>"
    )
    assert parse_feed(body, base_url=BASE).entries[0].title == "Breaking: Rockside & Co"


def test_dates_become_aware_utc_and_bad_dates_none() -> None:
    body = rss(
        "<item><title>a</title><pubDate>Tue, 05 Mar 2024 14:22:10 +0500</pubDate></item>"
        "<item><title>b</title><pubDate>sometime last week</pubDate></item>"
        "<item><title>c</title><pubDate>mer, 16 nov 2022 00:38:15 +0100</pubDate></item>"
        "<item><title>d</title></item>"
    )
    published = [entry.published for entry in parse_feed(body, base_url=BASE).entries]
    assert published == [
        datetime(2024, 3, 5, 9, 22, 10, tzinfo=UTC),
        None,
        datetime(2022, 11, 15, 23, 38, 15, tzinfo=UTC),
        None,
    ]


def test_summary_and_content_are_plain_text() -> None:
    body = (
        b'<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        b"<title>t</title><item><title>a</title>"
        b"<description>&lt;p&gt;Teaser &amp;amp; more&lt;/p&gt;</description>"
        b"<content:encoded><![CDATA[<h2>Head</h2><p>Para <em>one</em>\n continues.</p>"
        b"<script>steal()</script><p>Para two<br/>line two</p>]]></content:encoded>"
        b"</item></channel></rss>"
    )
    entry = parse_feed(body, base_url=BASE).entries[0]
    assert entry.summary == "Teaser & more"
    assert entry.content == "Head\n\nPara one continues.\n\nPara two\nline two"


@pytest.mark.parametrize(
    ("fragment", "text"),
    [
        ("", ""),
        ("   ", ""),
        ("plain &amp; simple", "plain & simple"),
        ("<p>a</p><p>b</p>", "a\n\nb"),
        ("<ul><li>one</li><li>two</li></ul>", "one\n\ntwo"),
        ("x<br>y<br><br>z", "x\ny\n\nz"),
        ("<div><style>p{}</style>  spaced\t\tout\n</div>", "spaced out"),
        ("<!-- only a comment -->", ""),
        ("caf&eacute; &#8211; &ldquo;q&rdquo;", "café – “q”"),
        ("bad\x00control\x1bchars", "badcontrolchars"),
    ],
)
def test_html_to_text(fragment: str, text: str) -> None:
    assert html_to_text(fragment) == text


# --- not feeds --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   \n",
        b"\x00\x01\x02garbage\xff\xfe\x89PNG",
        b"<!DOCTYPE html><html><head><title>Home</title></head><body><p>Hi</p></body></html>",
        b"<?xml version='1.0'?><note><to>Tove</to></note>",
        b"just some text",
    ],
    ids=["empty", "blank", "garbage", "html-page", "other-xml", "text"],
)
def test_non_feeds_raise_feed_parse_error(body: bytes) -> None:
    with pytest.raises(FeedParseError, match="not a feed"):
        parse_feed(body, base_url=BASE, content_type="text/html; charset=utf-8")


def test_real_html_page_is_not_a_feed() -> None:
    page = CORPORA / "hostile" / "html-edge-jsoup" / "yahoo-jp.html"
    with pytest.raises(FeedParseError, match="not a feed"):
        parse_file(page, content_type="text/html")


def test_malformed_feed_with_entries_is_accepted_with_a_warning() -> None:
    body = rss("<item><title>Fish & Chips</title><link>https://example.org/1</link></item>")
    parsed = parse_feed(body, base_url=BASE)
    assert [entry.link for entry in parsed.entries] == ["https://example.org/1"]
    assert parsed.warning  # feedparser's bozo reason, kept for the feed's health


# --- hostile XML ------------------------------------------------------------------------------


@pytest.fixture
def outgoing_connections(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """Every connection attempt made while the test runs; each one is refused."""
    attempts: list[object] = []

    def refuse(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError("connections are not allowed in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    yield attempts


EXPANSION_MARKERS = ("1234567890" * 2, "dos" * 4, "B" * 200, "123 123", "root:", "A test")


@pytest.mark.parametrize("path", sorted(HOSTILE_XML.rglob("*.*")), ids=lambda path: path.name)
def test_hostile_xml_never_expands_or_fetches(
    path: Path, outgoing_connections: list[object]
) -> None:
    body = path.read_bytes()
    for content_type in (None, "application/rss+xml"):
        try:
            parsed = parse_feed(body, base_url="http://127.0.0.1:9/feed", content_type=content_type)
        except FeedParseError:
            continue
        everything = repr(parsed)
        assert not any(marker in everything for marker in EXPANSION_MARKERS)
    assert outgoing_connections == []


@pytest.mark.parametrize(
    "name",
    [
        "xmlbomb.xml",
        "xmlbomb2.xml",
        "quadratic.xml",
        "cyclic.xml",
        "external.xml",
        "external_file.xml",
    ],
)
def test_entity_declarations_are_refused_before_parsing(name: str) -> None:
    with pytest.raises(FeedParseError, match="feed declares XML entities; refused"):
        parse_file(HOSTILE_XML / "defusedxml" / name)


BOMB = '<!DOCTYPE rss [<!ENTITY a "AAAAAAAAAA"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
BOMB_FEED = (
    f'{BOMB}<rss version="2.0"><channel><title>&b;</title>'
    "<item><title>&b;</title><link>https://example.org/1</link></item></channel></rss>"
)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (BOMB_FEED.encode("utf-16"), None),  # BOM, no declaration
        (('<?xml version="1.0" encoding="utf-16"?>' + BOMB_FEED).encode("utf-16"), None),
        (BOMB_FEED.encode("utf-16-le"), "application/rss+xml; charset=utf-16le"),
        (BOMB_FEED.encode("utf-7"), "application/rss+xml; charset=utf-7"),
        (BOMB_FEED.encode("cp037"), "application/xml; charset=cp037"),  # EBCDIC
        (("<!-- <hidden> -->" + BOMB_FEED).encode(), None),  # an element-like comment first
        (b'<?pi <x?><!DOCTYPE rss SYSTEM "<a>" [<!ENTITY a "A">]><rss/>', None),
        (b"stray text before " + BOMB_FEED.encode(), None),
    ],
    ids=[
        "utf16-bom",
        "utf16-declared",
        "utf16le-header",
        "utf7",
        "ebcdic",
        "comment",
        "pi",
        "text",
    ],
)
def test_entity_check_sees_what_the_parser_sees(body: bytes, content_type: str | None) -> None:
    # Checked after decoding, and past comments, PIs and literals that look like elements.
    with pytest.raises(FeedParseError, match="feed declares XML entities; refused"):
        parse_feed(body, base_url=BASE, content_type=content_type)


def test_entity_text_inside_the_document_body_is_not_refused() -> None:
    body = rss(
        "<item><title>XML security explained</title><link>https://example.org/xml</link>"
        '<description><![CDATA[Never trust <!ENTITY x "y"> in input.]]></description></item>'
    )
    entry = parse_feed(body, base_url=BASE).entries[0]
    assert entry.title == "XML security explained"


def test_external_dtd_and_entities_are_never_fetched(httpserver: HTTPServer) -> None:
    secret = "TOP-SECRET-ENTITY-TEXT"
    httpserver.expect_request("/evil.dtd").respond_with_data(
        f'<!ENTITY leak "{secret}">', content_type="application/xml-dtd"
    )
    httpserver.expect_request("/secret.txt").respond_with_data(secret)
    dtd_url = httpserver.url_for("/evil.dtd")
    external_dtd = rss(
        "<item><title>with an external DTD &amp; no entities</title>"
        "<link>https://example.org/1</link></item>",
        prolog=f'<!DOCTYPE rss SYSTEM "{dtd_url}">',
    )
    external_entity = rss(
        "<item><title>&leak;</title><link>https://example.org/2</link></item>",
        prolog=f'<!DOCTYPE rss [<!ENTITY leak SYSTEM "{httpserver.url_for("/secret.txt")}">]>',
    )

    parsed = parse_feed(external_dtd, base_url=BASE)
    with pytest.raises(FeedParseError, match="entities; refused"):
        parse_feed(external_entity, base_url=BASE)

    assert parsed.entries[0].title == "with an external DTD & no entities"
    assert secret not in repr(parsed)
    assert httpserver.log == []  # the loopback server never saw a request


def test_external_dtd_on_a_local_file_is_not_read() -> None:
    body = rss(
        "<item><title>t</title><link>https://example.org/1</link></item>",
        prolog='<!DOCTYPE rss SYSTEM "file:///etc/passwd">',
    )
    parsed = parse_feed(body, base_url=BASE)
    assert [entry.title for entry in parsed.entries] == ["t"]
    assert "root:" not in repr(parsed)


# --- smoke test over every real feed ----------------------------------------------------------


@pytest.mark.slow
def test_every_real_feed_parses_or_raises_feed_parse_error() -> None:
    paths = sorted(
        path
        for path in [*REAL_NEWS.rglob("*.*"), *MINIFLUX.glob("*")]
        if path.suffix in {".xml", ".rss", ".atom", ".json"}
        and "expected" not in path.parts
        and path.name != "MANIFEST.json"
    )
    with_entries = 0
    for path in paths:
        try:
            parsed = parse_file(path)
        except FeedParseError:
            continue
        with_entries += bool(parsed.entries)
        for entry in parsed.entries:
            assert entry.link is None or entry.link.startswith(("http://", "https://"))
            assert entry.published is None or entry.published.tzinfo == UTC
            assert "\n" not in entry.title
    assert len(paths) >= 50
    assert with_entries >= len(paths) - 1  # only the deliberately ill-formed feed has none


@pytest.mark.parametrize("charset", ["rot13", "zlib", "idna", "punycode", "no-such-charset"])
def test_unusable_declared_charsets_fall_back_to_the_real_encoding(charset: str) -> None:
    body = rss("<item><title>caf\u00e9</title><link>https://example.org/1</link></item>")
    parsed = parse_feed(body, base_url=BASE, content_type=f"application/xml; charset={charset}")
    assert [entry.title for entry in parsed.entries] == ["caf\u00e9"]
    assert parsed.warning == f"document declared as {charset}, but parsed as utf-8"
