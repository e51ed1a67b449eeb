"""The desk in a real browser (Playwright driving Debian's Chromium, headless): sign in, review
a flag with the keyboard, watch it leave the queue, read its audit entry; hostile article text
stays text. Writes the README's screenshots (docs/screenshots/)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

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


@pytest.fixture(scope="module")
def browser_context(desk: Desk, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")  # a fresh user-data-dir
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


def test_review_with_the_keyboard(desk: Desk, browser_context: object) -> None:
    from playwright.sync_api import BrowserContext, expect

    assert isinstance(browser_context, BrowserContext)
    page = browser_context.new_page()
    page.goto(f"{desk.base}/")
    expect(page).to_have_url(f"{desk.base}/login?next=%2F")
    page.fill("input[name=name]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("table.queue")).to_be_visible()
    rows = page.locator("tr.flag-row")
    total = rows.count()
    assert total >= 4
    expect(page.locator('[data-count="new"]')).to_have_text(str(total))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.keyboard.press("j")
    expect(rows.nth(0)).to_have_class("flag-row selected")
    page.screenshot(path=str(SCREENSHOTS / "queue.png"))

    # j twice, k once: the second row; Enter opens it.
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    chosen = rows.nth(1).get_attribute("data-id")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{desk.base}/flags/{chosen}")
    expect(page.locator("#document mark").first).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "flag.png"))

    # A note, then r: decided, and the desk moves on.
    page.fill("#note", "named by Treasury; escalate")
    page.keyboard.press("Escape")  # leave the note field so that keys are shortcuts again
    page.keyboard.press("r")
    page.wait_for_url(lambda url: url != f"{desk.base}/flags/{chosen}")

    page.goto(f"{desk.base}/")
    expect(page.locator("tr.flag-row")).to_have_count(total - 1)
    expect(page.locator(f'tr.flag-row[data-id="{chosen}"]')).to_have_count(0)
    expect(page.locator('[data-count="relevant"]')).to_have_text("1")

    # d on the queue itself dismisses the selected row without opening it.
    page.keyboard.press("j")
    dismissed = page.locator("tr.flag-row.selected").get_attribute("data-id")
    page.keyboard.press("d")
    expect(page.locator(f'tr.flag-row[data-id="{dismissed}"]')).to_have_count(0)
    expect(page.locator("tr.flag-row")).to_have_count(total - 2)

    page.goto(f"{desk.base}/flags/{chosen}")
    audit = page.locator("#audit tbody tr").first
    expect(audit).to_contain_text("alice")
    expect(audit).to_contain_text("relevant")
    expect(audit).to_contain_text("named by Treasury; escalate")
    expect(page.locator("#flag-status")).to_have_text("relevant")
    assert desk.repository.flag_detail(int(str(dismissed)))["status"] == "dismissed"


def test_script_in_article_text_is_shown_as_text(desk: Desk, browser_context: object) -> None:
    from playwright.sync_api import BrowserContext, expect

    assert isinstance(browser_context, BrowserContext)
    page = browser_context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{desk.base}/")
    if "/login" in page.url:
        page.fill("input[name=name]", "alice")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
    page.goto(f"{desk.base}/?status=all&q=forum")
    page.locator("tr.flag-row a.title").first.click()
    expect(page.locator("#document")).to_contain_text(SCRIPT_TEXT)
    assert page.title() != "pwned" and "pwned" not in page.title()
    assert page.locator("#document script").count() == 0
    assert dialogs == []
