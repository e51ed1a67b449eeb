"""`pipeline feeds discover URL` on a loopback site: advertised feeds, usual paths, robots.txt
sitemaps, each verified by parsing it; YAML ready for feeds.yaml on stdout."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from pipeline.cli.app import app
from pipeline.core.config import Config
from tests.site import Page, Site, rss
from tests.test_sitemaps import news_sitemap


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Path]:
    """A feeds.yaml without feeds: discovery needs no database (no PostgreSQL round)."""

    def write(feeds: list[dict[str, Any]], **fetch: Any) -> Path:
        path = tmp_path / "feeds.yaml"
        # No politeness delay: a dozen candidates on one host would take a dozen seconds.
        settings = {"allow_private_addresses": True, "timeout": 5, "host_delay": 0, **fetch}
        path.write_text(yaml.safe_dump({"fetch": settings, "feeds": feeds}), encoding="utf-8")
        return path

    return write


def homepage(links: str) -> Page:
    head = f"<head><title>Home</title>{links}</head>"
    return Page(f"<!DOCTYPE html><html>{head}<body>Hi</body></html>".encode())


def test_discovers_advertised_common_and_robots_feeds(
    site: Site, make_config: Callable[..., Path]
) -> None:
    item = [{"title": "One", "link": site.url("/one")}]
    links = (
        '<link rel="alternate" type="application/rss+xml" title="Main news" href="/rss/main">'
        '<link rel="alternate" type="application/atom+xml" href="/broken.atom">'
        '<link rel="stylesheet" type="text/css" href="/style.css">'
        '<link rel="alternate" type="application/feed+json" title="JSON" href="feed.json">'
    )
    site.add("/", homepage(links))
    site.add("/rss/main", Page(rss(item, title="Main"), content_type="application/rss+xml"))
    site.add("/broken.atom", Page(b"<html>not a feed</html>"))
    json_feed = {"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": []}
    site.add("/feed.json", Page(json.dumps(json_feed).encode(), content_type="application/json"))
    site.add("/atom.xml", Page(rss(item, title="Atom path"), content_type="application/xml"))
    site.redirect("/feed", site.url("/rss/main"))  # a second road to one feed: listed once
    news = news_sitemap([(site.url("/one"), "One", "2025-01-01")])
    site.add("/news-sitemap.xml", Page(news, content_type="application/xml"))
    site.add("/robots.txt", Page(f"User-agent: *\nSitemap: {site.url('/n2.xml')}\n".encode()))
    site.add("/n2.xml", Page(news, content_type="application/xml"))
    config = make_config([])

    result = cli("--config", str(config), "feeds", "discover", site.url("/"))

    assert result.exit_code == 0, result.output
    found = yaml.safe_load(result.stdout)
    assert found == [
        {"name": "Main news", "url": site.url("/rss/main")},
        {"name": "JSON", "url": site.url("/feed.json")},
        {"name": "Atom path", "url": site.url("/atom.xml")},
        {
            "name": "127.0.0.1 sitemap /news-sitemap.xml",
            "url": site.url("/news-sitemap.xml"),
            "kind": "sitemap",
        },
        {"name": "127.0.0.1 sitemap /n2.xml", "url": site.url("/n2.xml"), "kind": "sitemap"},
    ]
    # Ready to paste: the printed entries validate as feeds of a config.
    Config.model_validate({"feeds": found})


def test_no_feed_exits_1_and_bad_url_exits_2(site: Site, make_config: Callable[..., Path]) -> None:
    site.add("/", homepage(""))
    config = make_config([])

    none = cli("--config", str(config), "feeds", "discover", site.url("/"))
    bad = cli("--config", str(config), "feeds", "discover", "ftp://example.com/")

    assert none.exit_code == 1 and "no feed or news sitemap found" in none.stderr
    assert none.stdout == ""
    assert bad.exit_code == 2 and "not an http(s) URL" in bad.stderr
    # Before there is a feeds.yaml: the defaults serve, the URL is what is judged.
    missing = config.parent / "absent.yaml"
    early = cli("--config", str(missing), "feeds", "discover", "ftp://example.com/")
    assert early.exit_code == 2 and "not an http(s) URL" in early.stderr


def test_other_hosts_pass_the_address_guard(site: Site, make_config: Callable[..., Path]) -> None:
    """The homepage is trusted; a feed it links on another host is not (here: localhost
    instead of 127.0.0.1, refused because the guard is on)."""
    other = site.url("/rss").replace("127.0.0.1", "localhost")
    site.add("/", homepage(f'<link rel="alternate" type="application/rss+xml" href="{other}">'))
    site.add("/rss", Page(rss([{"title": "One", "link": site.url("/one")}])))
    config = make_config([], allow_private_addresses=False)

    result = cli("--config", str(config), "feeds", "discover", site.url("/"))

    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.stdout) == [{"name": "Test feed", "url": site.url("/rss")}]
    assert len(site.hits("/rss")) == 1  # only the same-host common path reached it
