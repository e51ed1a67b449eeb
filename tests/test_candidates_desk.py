"""The desk's "Possible" tab and quality table in a real browser (Playwright driving Debian's
Chromium): promote and dismiss with the keyboard, over a database seeded by a real run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.desk import PASSWORD, Desk, run_feed, running_desk, story
from tests.site import serve
from tests.test_web_browser import CHROMIUM, chromium_context

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs /usr/bin/chromium (make test installs it)"
)

STORIES = {
    "/rugs": [
        "Rockside Enterprise opened a new showroom on Saturday, offering discounts on rugs and "
        "lamps to the first hundred customers who came through its doors.",
        "The owner said business had been steady this year and that a second branch would open "
        "before the end of the summer if sales kept growing at the present pace.",
    ],
    "/office": [
        "Affiliates International moved into a larger office this week, its founder said, after "
        "a year in which the consultancy doubled its staff and took on new clients.",
        "The firm plans to hire twenty graduates in the autumn and to open a training centre "
        "for them on the ground floor of the new building before the end of the year.",
    ],
}


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    directory = tmp_path_factory.mktemp("possible")
    url = f"sqlite:///{directory / 'pipeline.db'}"
    with serve() as site:
        items = [
            story(site, path, f"Local business {path}", paragraphs)
            for path, paragraphs in STORIES.items()
        ]
        run_feed(site, url, directory, items)
    with running_desk(url) as running:
        yield running


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    with chromium_context(tmp_path_factory.mktemp("chromium-profile")) as context:
        yield context


def test_promote_and_dismiss_on_the_possible_tab_with_the_keyboard(
    desk: Desk, browser_context: object
) -> None:
    from playwright.sync_api import BrowserContext, expect

    assert isinstance(browser_context, BrowserContext)
    page = browser_context.new_page()
    page.goto(f"{desk.base}/login?next=/possible")
    page.fill("input[name=name]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    rows = page.locator("li.candidate-row")
    expect(rows).to_have_count(2)
    expect(page.locator('[data-count="new"]')).to_have_text("2")
    expect(rows.first).to_have_class("story-row candidate-row selected")
    expect(page.locator("p.reason").first).to_contain_text("no corroborating context")
    first = rows.first.get_attribute("data-candidate")
    page.keyboard.press("p")
    expect(page.locator("li.candidate-row")).to_have_count(1)  # reloaded: one left
    page.keyboard.press("d")
    expect(page.locator("li.empty")).to_contain_text("no open possible mentions")
    statuses = {c["id"]: c["status"] for c in desk.repository.list_candidates()}
    assert sorted(statuses.values()) == ["dismissed", "promoted"]
    assert statuses[int(first or 0)] == "promoted"
    [flag] = desk.repository.list_flags()
    assert (flag["rule"], flag["status"], flag["reviewed_by"]) == ("analyst", "relevant", "alice")
    page.goto(f"{desk.base}/quality")
    entities = page.locator('table[data-table="entities"] tbody tr')
    expect(entities.last).to_contain_text("overall")
    analyst = page.locator('table[data-table="rules"] tbody tr', has_text="analyst")
    expect(analyst).to_have_count(1)
    expect(page.locator('table[data-table="rules"] tbody tr').last).to_contain_text("overall")
