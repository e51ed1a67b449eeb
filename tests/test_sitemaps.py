"""News sitemaps as sources: the parser, and feeds of `kind: sitemap` end to end on loopback."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from pipeline.core.config import load_config
from pipeline.core.errors import FeedParseError
from pipeline.sources.sitemaps import MAX_CHILDREN, parse_sitemap
from tests.conftest import run_once
from tests.site import Page, Site, article_html
from tests.test_ingest_e2e import CRICKET_STORY, NDC_STORY

NEWS_NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" ' + (
    'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"'
)


def news_sitemap(articles: list[tuple[str, str, str]]) -> bytes:
    """A Google News sitemap of (loc, title, publication date)."""
    urls = "".join(
        f"<url><loc>{loc}</loc><news:news><news:publication><news:name>The Daily Test"
        "</news:name><news:language>en</news:language></news:publication>"
        f"<news:publication_date>{date}</news:publication_date>"
        f"<news:title>{title}</news:title></news:news></url>"
        for loc, title, date in articles
    )
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset {NEWS_NS}>{urls}</urlset>'.encode()


def sitemap_index(children: list[tuple[str, str | None]]) -> bytes:
    items = "".join(
        f"<sitemap><loc>{loc}</loc>{f'<lastmod>{mod}</lastmod>' if mod else ''}</sitemap>"
        for loc, mod in children
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{items}</sitemapindex>'
    ).encode()


def count(config: Path, query: str) -> int:
    engine = create_engine(load_config(config).database)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(query)).scalar_one())
    finally:
        engine.dispose()


def test_news_sitemap_entries_newest_first_with_titles_and_dates() -> None:
    body = news_sitemap(
        [
            ("https://news.example/a", "First  story", "2025-01-05T08:00:00+05:00"),
            ("https://news.example/b", "Second &amp; last", "2025-01-06"),
            ("javascript:alert(1)", "Not a link", "2025-01-07"),
        ]
    )
    sitemap = parse_sitemap(body, base_url="https://news.example/sitemap.xml", max_bytes=10**6)

    assert sitemap.children == []
    assert [entry.link for entry in sitemap.entries] == [
        "https://news.example/b",
        "https://news.example/a",
    ]
    second, first = sitemap.entries
    assert second.title == "Second & last" and first.title == "First story"
    assert first.published == datetime(2025, 1, 5, 3, 0, tzinfo=UTC)
    assert second.published == datetime(2025, 1, 6, tzinfo=UTC)


def test_plain_sitemap_uses_lastmod_and_gzip_is_inflated() -> None:
    body = (
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<url><loc>https://s.example/x</loc><lastmod>2024-12-31T23:00:00Z</lastmod></url>"
        b"<url><loc>https://s.example/y</loc></url></urlset>"
    )
    sitemap = parse_sitemap(gzip.compress(body), base_url="https://s.example/", max_bytes=10**6)
    assert [(e.link, e.published, e.title) for e in sitemap.entries] == [
        ("https://s.example/x", datetime(2024, 12, 31, 23, tzinfo=UTC), ""),
        ("https://s.example/y", None, ""),
    ]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty"),
        (b"<rss><channel></channel></rss>", "root element is <rss>"),
        (b"<urlset><url>", "not a sitemap"),
        (
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]>'
            b"<urlset><url><loc>https://a.example/&lol;</loc></url></urlset>",
            "refused",
        ),
        (
            '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY e SYSTEM '
            '"file:///etc/passwd">]><urlset/>'.encode("utf-16"),
            "refused",
        ),
        (gzip.compress(b"<urlset>" + b" " * 5000 + b"</urlset>"), "more than fetch.max_bytes"),
    ],
)
def test_hostile_or_foreign_documents_are_refused(body: bytes, reason: str) -> None:
    with pytest.raises(FeedParseError, match=reason):
        parse_sitemap(body, base_url="https://a.example/", max_bytes=2000)


def test_index_lists_children() -> None:
    body = sitemap_index([("https://a.example/1.xml", "2025-01-01"), ("/relative.xml", None)])
    sitemap = parse_sitemap(body, base_url="https://a.example/", max_bytes=10**6)
    assert sitemap.entries == []
    assert [child.url for child in sitemap.children] == ["https://a.example/1.xml"]


def test_news_sitemap_with_three_articles_stores_three(
    site: Site, make_config: Callable[..., Path]
) -> None:
    stories = [("NDC designated", NDC_STORY), ("Pakistan win series", CRICKET_STORY)]
    stories.append(("Series report", [p.replace("Karachi", "Multan") for p in CRICKET_STORY]))
    articles = []
    for number, (title, paragraphs) in enumerate(stories):
        site.add(f"/news/{number}", Page(article_html(title, paragraphs)))
        articles.append((site.url(f"/news/{number}"), title, f"2025-01-0{number + 1}T10:00:00Z"))
    site.add("/news-sitemap.xml", Page(news_sitemap(articles), content_type="application/xml"))
    config = make_config(
        [{"name": "Sitemap", "url": site.url("/news-sitemap.xml"), "kind": "sitemap"}]
    )

    (record,) = run_once(config)

    assert record.outcome == "ok" and record.entries == 3 and record.new_entries == 3
    assert count(config, "SELECT count(*) FROM article") == 3
    assert count(config, "SELECT count(*) FROM article WHERE text_source = 'page'") == 3
    assert count(config, "SELECT count(*) FROM flag") >= 2  # NDC story names two entities
    titles = count(config, "SELECT count(*) FROM article WHERE title = 'NDC designated'")
    assert titles == 1


def test_sitemap_index_reads_its_newest_children(
    site: Site, make_config: Callable[..., Path]
) -> None:
    site.add("/a1", Page(article_html("NDC designated", NDC_STORY)))
    site.add("/b1", Page(article_html("Pakistan win series", CRICKET_STORY)))
    site.add("/s1.xml", Page(news_sitemap([(site.url("/a1"), "NDC designated", "2025-01-02")])))
    site.add("/s2.xml", Page(gzip.compress(news_sitemap([(site.url("/b1"), "Win", "2025-01-03")]))))
    children = [(site.url("/s1.xml"), "2025-01-02"), (site.url("/s2.xml"), "2025-01-03")]
    children += [(site.url(f"/old{n}.xml"), f"2020-01-0{n + 1}") for n in range(MAX_CHILDREN)]
    site.add("/index.xml", Page(sitemap_index(children), content_type="application/xml"))
    feed = {"name": "Index", "url": site.url("/index.xml"), "kind": "sitemap"}
    config = make_config([feed], fetch={"host_delay": 0})

    (record,) = run_once(config)

    assert record.outcome == "ok" and record.new_entries == 2
    assert count(config, "SELECT count(*) FROM article") == 2
    assert site.hits("/s1.xml") and site.hits("/s2.xml")
    assert not site.hits("/old0.xml")  # the oldest child is beyond the limit
    assert len([r for r in site.requests if r.path.startswith("/old")]) == MAX_CHILDREN - 2


def test_index_whose_children_all_fail_is_a_feed_error(
    site: Site, make_config: Callable[..., Path]
) -> None:
    site.add("/index.xml", Page(sitemap_index([(site.url("/gone.xml"), None)])))
    config = make_config([{"name": "Index", "url": site.url("/index.xml"), "kind": "sitemap"}])

    (record,) = run_once(config)

    assert record.outcome == "error" and "no child sitemap could be read" in (record.error or "")


def test_unchanged_index_still_reads_its_changed_children(
    site: Site, make_config: Callable[..., Path]
) -> None:
    """A static index (same bytes, same ETag) whose child gains an article: the article must
    still be found, so an index is never skipped as 'not modified'."""
    site.add("/a1", Page(article_html("NDC designated", NDC_STORY)))
    site.add("/b1", Page(article_html("Pakistan win series", CRICKET_STORY)))
    first = [(site.url("/a1"), "NDC designated", "2025-01-02")]
    site.add("/news.xml", Page(news_sitemap(first), content_type="application/xml"))
    index = sitemap_index([(site.url("/news.xml"), None)])
    site.add("/index.xml", Page(index, content_type="application/xml", etag='"static"'))
    feed = {"name": "Index", "url": site.url("/index.xml"), "kind": "sitemap"}
    config = make_config([feed], fetch={"host_delay": 0})
    run_once(config)
    both = [*first, (site.url("/b1"), "Pakistan win series", "2025-01-03")]
    site.add("/news.xml", Page(news_sitemap(both), content_type="application/xml"))

    (record,) = run_once(config)

    assert record.new_entries == 1
    assert count(config, "SELECT count(*) FROM article") == 2
