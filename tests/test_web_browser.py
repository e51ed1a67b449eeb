"""The desk in a real browser (Playwright driving Debian's Chromium, headless): sign in, move
through the story queue with the keyboard, decide, read the audit entry; hostile article text
stays text. (tests/test_desk_browser.py reviews whole stories and writes the screenshots.)"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.desk import PASSWORD, SCRIPT_TEXT, Desk, running_desk, seed
from tests.site import serve

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs /usr/bin/chromium (make test installs it)"
)


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    directory = tmp_path_factory.mktemp("browser")
    url = f"sqlite:///{directory / 'pipeline.db'}"
    with serve() as site:
        seed(site, url, directory)
    with running_desk(url) as running:
        yield running


@contextmanager
def chromium_context(profile: Path) -> Iterator[Any]:
    """Debian's Chromium, headless, over the fresh user-data-dir `profile` (removed after)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=VIEWPORT,
        )
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def browser_context(desk: Desk, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    with chromium_context(tmp_path_factory.mktemp("chromium-profile")) as context:
        yield context


def sign_in(page: object, desk: Desk) -> None:
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    page.goto(f"{desk.base}/")
    if "/login" in page.url:
        page.fill("input[name=name]", "alice")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")


def test_review_with_the_keyboard(desk: Desk, browser_context: object) -> None:
    """The queue is one row per story: j/k move, Enter opens the story, d on the queue
    dismisses a one-entity story at once; the flag page still decides with r."""
    from playwright.sync_api import BrowserContext, expect

    assert isinstance(browser_context, BrowserContext)
    page = browser_context.new_page()
    page.goto(f"{desk.base}/")
    expect(page).to_have_url(f"{desk.base}/login?next=%2F")
    sign_in(page, desk)
    expect(page.locator("ol.stories")).to_be_visible()
    rows = page.locator("li.story-row")
    flags = desk.repository.list_flags()
    stories = {flag["story_id"] for flag in flags}
    expect(rows).to_have_count(len(stories))
    expect(page.locator('[data-count="new"]')).to_have_text(str(len(stories)))
    page.keyboard.press("j")
    expect(rows.nth(0)).to_have_class("story-row selected")

    # j, k, j: the second row; Enter opens its story.
    page.keyboard.press("j")
    page.keyboard.press("k")
    page.keyboard.press("j")
    chosen = rows.nth(1).get_attribute("data-story")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{desk.base}/stories/{chosen}")
    expect(page.locator("#document mark").first).to_be_visible()

    # A flag page: a note, then r: decided, and audited.
    single = next(f for f in flags if f["url"].endswith("/forum"))
    page.goto(f"{desk.base}/flags/{single['id']}")
    page.fill("#note", "named by Treasury; escalate")
    page.keyboard.press("Escape")  # leave the note field so that keys are shortcuts again
    page.keyboard.press("r")
    page.wait_for_url(lambda url: url != f"{desk.base}/flags/{single['id']}")
    page.goto(f"{desk.base}/flags/{single['id']}")
    audit = page.locator("#audit tbody tr").first
    expect(audit).to_contain_text("alice")
    expect(audit).to_contain_text("relevant")
    expect(audit).to_contain_text("named by Treasury; escalate")
    expect(page.locator("#flag-status")).to_have_text("relevant")

    # d on a story of several entities asks first: Esc keeps them, Enter dismisses them all,
    # and u undoes it.
    page.goto(f"{desk.base}/")
    expect(rows).to_have_count(len(stories) - 1)
    several = rows.first
    story = several.get_attribute("data-story")
    entities = several.locator("li.chip[data-flag]").count()
    assert entities >= 3
    page.keyboard.press("j")
    page.keyboard.press("d")
    expect(page.locator("#confirm")).to_be_visible()
    expect(page.locator("#confirm-list li")).to_have_count(entities)
    page.keyboard.press("Escape")
    expect(page.locator("#confirm")).to_be_hidden()
    expect(several.locator("li.chip.status-new")).to_have_count(entities)
    page.keyboard.press("d")
    page.keyboard.press("Enter")
    expect(page.locator(f'li.story-row[data-story="{story}"]')).to_have_count(0)
    expect(page.locator("#toast")).to_contain_text(f"{entities} flags dismissed")
    page.keyboard.press("u")
    expect(page.locator("#toast")).to_contain_text("Undone.")
    expect(page.locator(f'li.story-row[data-story="{story}"] li.chip.status-new')).to_have_count(
        entities
    )


def test_script_in_article_text_is_shown_as_text(desk: Desk, browser_context: object) -> None:
    from playwright.sync_api import BrowserContext, expect

    assert isinstance(browser_context, BrowserContext)
    page = browser_context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, desk)
    page.goto(f"{desk.base}/?status=all&q=forum")
    page.locator("li.story-row a.title").first.click()
    expect(page.locator("#document")).to_contain_text(SCRIPT_TEXT)
    assert page.title() != "pwned" and "pwned" not in page.title()
    assert page.locator("#document script").count() == 0
    assert dialogs == []
