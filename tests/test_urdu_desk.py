"""An Urdu flag on the desk, in a real browser (Debian's Chromium via Playwright): the text blocks
run right to left (dir="auto"), the mention marks cover exactly the name as written, and the
flag keeps the English canonical name. Writes docs/screenshots/urdu-flag.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine, text

from tests.conftest import run_once
from tests.desk import PASSWORD, Desk, running_desk
from tests.site import Page, rss, serve
from tests.test_web_browser import CHROMIUM, SCREENSHOTS, chromium_context

STORY = Path(__file__).parent / "fixtures" / "urdu" / "express-story.html"
TITLE = "امریکا کی نیشنل ڈویلپمنٹ کمپلیکس سمیت چار اداروں پر پابندیاں"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs /usr/bin/chromium (make test installs it)"
)


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    directory = tmp_path_factory.mktemp("urdu-desk")
    url = f"sqlite:///{directory / 'pipeline.db'}"
    with serve() as site:
        site.add("/story", Page(STORY.read_bytes()))
        feed = rss([{"title": TITLE, "link": site.url("/story")}], title="Urdu loopback")
        site.add("/feed.xml", Page(feed, content_type="application/rss+xml"))
        config = {
            "database": url,
            "fetch": {"allow_private_addresses": True, "extract_workers": 0, "timeout": 5},
            "feeds": [{"name": "Urdu Loopback", "url": site.url("/feed.xml"), "tags": ["urdu"]}],
        }
        path = directory / "feeds.yaml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        run_once(path)
    with running_desk(url) as running:
        yield running


def _flag_id(desk: Desk, entity_id: str) -> int:
    engine = create_engine(desk.database_url)
    try:
        with engine.connect() as connection:
            query = text("SELECT id FROM flag WHERE entity_id = :entity")
            return int(connection.execute(query, {"entity": entity_id}).scalar_one())
    finally:
        engine.dispose()


def test_an_urdu_flag_reads_right_to_left(desk: Desk, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with chromium_context(tmp_path / "profile") as context:
        page = context.new_page()
        page.goto(f"{desk.base}/login")
        page.fill("input[name=name]", "alice")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.goto(f"{desk.base}/flags/{_flag_id(desk, 'ofac-52049')}")

        for selector in ("h1.title", "#snippet", "#document", "q.matched"):
            element = page.locator(selector)
            expect(element).to_have_attribute("dir", "auto")
            direction = element.evaluate("e => getComputedStyle(e).direction")
            assert direction == "rtl", selector
        matched = page.locator("q.matched").inner_text()
        assert matched == "نیشنل ڈویلپمنٹ کمپلیکس"  # as written in the page
        assert page.locator("#snippet mark").first.inner_text() == matched
        marks = page.locator("#document mark").all_inner_texts()
        assert marks and all(mark == matched for mark in marks)
        expect(page.locator("body")).to_contain_text("National Development Complex")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "urdu-flag.png"), full_page=True)
