"""Reviewing by story in a real browser (Playwright driving Debian's Chromium): a story naming
four entities is decided in one keystroke after a confirmation, and each entity's audit entry
is on its story page; an entity page's SVG has one bar per day with stories; the queue fits a
390 px phone; an empty filter result says so with a way out. Writes docs/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from storage.db import Database
from tests.desk import Desk, running_desk, seed_review_desk, seeded_database
from tests.test_web_browser import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, VIEWPORT, sign_in

NDC = "ofac-52049"
PHONE = {"width": 390, "height": 844}
TODAY = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
# Days before today on which each article was published, in article order (the four-entity
# story, the NDC story and its copy, the forum post, five single-entity reports), and language.
PUBLISHED = [(1, "en"), (1, "en"), (1, "en"), (4, "en"), (9, "ur"), (9, "en"), (8, "en"),
             (4, "ur"), (2, "en")]  # fmt: skip
NDC_DAYS = {days for days, _ in PUBLISHED}  # every story names the NDC: one bar per day

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs /usr/bin/chromium (make test installs it)"
)


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    url = f"sqlite:///{seeded_database(tmp_path_factory.mktemp('review-desk'), seed_review_desk)}"
    database = Database(url)
    with database.engine.begin() as connection:
        ids = [row[0] for row in connection.execute(text("SELECT id FROM article ORDER BY id"))]
        assert len(ids) == len(PUBLISHED)
        for article_id, (days, language) in zip(ids, PUBLISHED, strict=True):
            connection.execute(
                text("UPDATE article SET published_at = :at, language = :lang WHERE id = :id"),
                {
                    "at": (TODAY - timedelta(days=days)).replace(tzinfo=None),
                    "lang": language,
                    "id": article_id,
                },
            )
    database.dispose()
    with running_desk(url) as running:
        yield running


@pytest.fixture(scope="module")
def playwright_browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def test_a_story_of_four_entities_in_one_keystroke(desk: Desk, playwright_browser: Any) -> None:
    from playwright.sync_api import expect

    context = playwright_browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    sign_in(page, desk)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    four = page.locator("li.story-row").filter(has_text="Treasury names four")
    expect(four.locator("li.chip[data-flag]")).to_have_count(4)
    page.keyboard.press("j")
    page.screenshot(path=str(SCREENSHOTS / "queue.png"))
    index = [row.get_attribute("data-story") for row in page.locator("li.story-row").all()].index(
        four.get_attribute("data-story")
    )
    for _ in range(index):
        page.keyboard.press("j")
    expect(four).to_have_class("story-row selected")
    story = four.get_attribute("data-story")

    page.keyboard.press("r")  # one keystroke for the whole story ...
    dialog = page.locator("#confirm")
    expect(dialog).to_be_visible()
    expect(page.locator("#confirm-list li")).to_have_count(4)
    expect(page.locator("#confirm-text")).to_contain_text("all 4 entities")
    page.screenshot(path=str(SCREENSHOTS / "confirm.png"))
    page.keyboard.press("Enter")  # ... and its confirmation
    expect(page.locator("#toast")).to_contain_text("4 flags marked relevant")
    expect(page.locator("#undo")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "decided.png"))

    flags = [f for f in desk.repository.list_flags() if str(f["story_id"]) == story]
    assert len(flags) == 4 and {f["status"] for f in flags} == {"relevant"}
    page.goto(f"{desk.base}/stories/{story}")
    audit = page.locator("#audit tbody tr")
    expect(audit).to_have_count(4)
    for flag in flags:
        row = audit.filter(has_text=flag["entity"])
        expect(row).to_have_count(1)
        expect(row).to_contain_text("alice")
        expect(row).to_contain_text("relevant")
    expect(page.locator("#document mark.e3").first).to_be_visible()  # a fourth colour
    page.screenshot(path=str(SCREENSHOTS / "story.png"), full_page=True)
    context.close()


def test_entity_page_svg_has_one_bar_per_day_with_stories(
    desk: Desk, playwright_browser: Any
) -> None:
    from playwright.sync_api import expect

    context = playwright_browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    sign_in(page, desk)
    page.goto(f"{desk.base}/entities/{NDC}")
    bars = page.locator("#timeline svg g.bar")
    expect(bars).to_have_count(len(NDC_DAYS))
    first_day = (TODAY - timedelta(days=9)).date().isoformat()
    expect(page.locator(f'#timeline svg g.bar[data-start="{first_day}"] rect')).to_have_count(2)
    page.screenshot(path=str(SCREENSHOTS / "entity.png"), full_page=True)
    page.goto(f"{desk.base}/entities")
    covered = {flag["entity_id"] for flag in desk.repository.list_flags()}
    expect(page.locator("svg.timeline.compact")).to_have_count(len(covered))
    page.screenshot(path=str(SCREENSHOTS / "entities.png"))
    page.goto(f"{desk.base}/feeds")
    page.screenshot(path=str(SCREENSHOTS / "feeds.png"))
    flag = next(f for f in desk.repository.list_flags() if f["entity"] == "Rockside Enterprise")
    page.goto(f"{desk.base}/flags/{flag['id']}")
    expect(page.locator(".why .distance").first).to_be_visible()  # context words, distances
    page.screenshot(path=str(SCREENSHOTS / "flag.png"))
    context.close()


def test_api_docs_render_offline(desk: Desk, playwright_browser: Any) -> None:
    """Swagger UI from the package, under the page's own Content-Security-Policy: every
    request the page makes stays on the desk."""
    from playwright.sync_api import expect

    context = playwright_browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{desk.base}/api/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("sanctions-watch read API")
    expect(page.locator(".opblock-summary-path", has_text="/api/entities").first).to_be_visible()
    assert requested and all(url.startswith(desk.base) for url in requested)
    context.close()


def test_the_queue_on_a_phone_and_an_empty_filter(desk: Desk, playwright_browser: Any) -> None:
    from playwright.sync_api import expect

    context = playwright_browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    sign_in(page, desk)
    page.goto(f"{desk.base}/?status=all")
    expect(page.locator("li.story-row").first).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]  # nothing wider than the screen: no sideways scrolling
    page.screenshot(path=str(SCREENSHOTS / "phone-queue.png"), full_page=True)

    page.goto(f"{desk.base}/?status=all&q=no+such+words+anywhere")
    empty = page.locator("li.empty")
    expect(empty).to_contain_text("Nothing matches these filters")
    empty.get_by_role("link", name="Clear filters").click()
    expect(page.locator("li.story-row").first).to_be_visible()
    context.close()


def test_select_with_x_then_decide_the_selection(desk: Desk, playwright_browser: Any) -> None:
    from playwright.sync_api import expect

    context = playwright_browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    sign_in(page, desk)
    rows = page.locator("li.story-row")
    before = rows.count()
    picked = [rows.nth(0).get_attribute("data-story"), rows.nth(1).get_attribute("data-story")]
    entities = rows.nth(0).locator("li.chip[data-flag]").count()
    entities += rows.nth(1).locator("li.chip[data-flag]").count()
    page.keyboard.press("j")
    page.keyboard.press("x")
    page.keyboard.press("j")
    page.keyboard.press("x")
    expect(page.locator("#bulk")).to_be_visible()
    expect(page.locator("#bulk-count")).to_have_text("2 selected")
    page.keyboard.press("d")
    expect(page.locator("#confirm-list li")).to_have_count(entities)
    page.keyboard.press("Enter")
    expect(page.locator("#toast")).to_contain_text(f"{entities} flag")
    expect(rows).to_have_count(before - 2)
    for story in picked:
        expect(page.locator(f'li.story-row[data-story="{story}"]')).to_have_count(0)
    page.keyboard.press("u")
    expect(page.locator("#toast")).to_contain_text("Undone.")
    expect(rows).to_have_count(before)
    context.close()
