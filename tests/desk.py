"""The desk under test: a database seeded by the real pipeline, and `pipeline serve`'s app on a
real uvicorn server on 127.0.0.1 (a free port), in a thread."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import uvicorn
import yaml

from pipeline.core.clock import utcnow
from pipeline.desk.app import create_app
from pipeline.desk.users import add_user, rotate_token
from storage.db import Database
from storage.repository import Repository
from tests.conftest import run_once
from tests.site import Page, Site, article_html, rss, serve

PASSWORD = "correct horse battery"
TEAM_TOKEN = "team-token-0123456789abcdef"
SCRIPT_TEXT = "<script>document.title='pwned'</script>"

NDC_STORY = [
    "The United States on Wednesday designated Pakistan's National Development Complex, the "
    "state-owned body that runs the country's long-range ballistic missile programme, under "
    "Executive Order 13382, which targets proliferators of weapons of mass destruction.",
    "The Treasury also named three Karachi-based firms, including Akhtar and Sons Private "
    "Limited, accusing them of supplying equipment for the missile programme in Islamabad.",
    "Pakistan's foreign office called the sanctions biased and said they would endanger "
    "strategic stability in the region. The National Development Complex did not comment.",
]
# Escaped in the HTML, so the extracted article text holds a literal <script> element.
HOSTILE_STORY = [
    "A reader forum reposted the sanctions notice on the National Development Complex with "
    "a pasted fragment &lt;script&gt;document.title='pwned'&lt;/script&gt; left in the text "
    "of the post, which moderators removed on Thursday.",
    "The Treasury said the designation of the National Development Complex, which builds "
    "Pakistan's long-range missiles, stands under the proliferation sanctions programme.",
    "Analysts in Islamabad said the listing changed little for the state-owned complex, whose "
    "suppliers were already subject to export controls in several countries.",
]
CRICKET_STORY = [
    "Pakistan's cricket team beat South Africa by five wickets in Karachi on Sunday, chasing "
    "down a target of 243 with two overs to spare in front of a full house at the stadium.",
    "Opener Saim Ayub made 89 and the captain added an unbeaten 61 as the hosts sealed the "
    "series. The bowlers had earlier restricted the visitors after a strong start.",
]


@dataclass(frozen=True)
class Desk:
    base: str
    database_url: str
    repository: Repository
    api_token: str  # the reviewer "alice"'s API token


def seed(site: Site, database_url: str, directory: Path) -> None:
    """Run the real pipeline once over a loopback site: three flagged stories (one with a
    second copy at another URL, one whose text holds a <script> element) and one unflagged."""
    items = [
        *flagged_stories(site),
        story(site, "/cricket", "Pakistan win in Karachi", CRICKET_STORY),
    ]
    run_feed(site, database_url, directory, items)


def story(site: Site, path: str, title: str, paragraphs: list[str]) -> dict[str, str]:
    """An article page at `path` on `site`; its feed item."""
    site.add(path, Page(article_html(title, paragraphs)))
    return {"title": title, "link": site.url(path)}


def flagged_stories(site: Site) -> list[dict[str, str]]:
    """The NDC story and its second copy at another URL, and the forum post with a <script>."""
    return [
        story(site, "/ndc", "US sanctions Pakistani missile body", NDC_STORY),
        story(site, "/ndc-copy", "US sanctions Pakistani missile body", NDC_STORY),
        story(site, "/forum", "Forum post on the missile sanctions", HOSTILE_STORY),
    ]


def run_feed(
    site: Site,
    database_url: str,
    directory: Path,
    items: list[dict[str, str]],
    *,
    name: str = "Loopback News",
    path: str = "/feed.xml",
) -> None:
    """Serve `items` as one RSS feed at `path` and run the real pipeline once over it."""
    site.add(path, Page(rss(items), content_type="application/rss+xml"))
    config = {
        "database": database_url,
        "fetch": {"allow_private_addresses": True, "extract_workers": 0, "timeout": 5},
        "schedule": {"interval": "15m"},
        "feeds": [{"name": name, "url": site.url(path)}],
    }
    config_path = directory / "feeds.yaml"
    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    run_once(config_path)


def seeded_database(directory: Path, fill: Callable[[Site, str, Path], None] = seed) -> Path:
    """A SQLite database in `directory` filled once by `fill` (the real pipeline over a
    loopback site), for each test to run a desk over a copy of."""
    url = f"sqlite:///{directory / 'pipeline.db'}"
    with serve() as site:
        fill(site, url, directory)
    Database(url).dispose()
    return directory / "pipeline.db"


@contextmanager
def desk_on_copy(
    seeded: Path,
    tmp_path: Path,
    *,
    clock: Callable[[], datetime] = utcnow,
    forwarded_allow_ips: str | None = None,
) -> Iterator[Desk]:
    """`running_desk` over a fresh copy of the `seeded` database."""
    copy = tmp_path / "desk.db"
    shutil.copy(seeded, copy)
    database_url = f"sqlite:///{copy}"
    with running_desk(database_url, clock=clock, forwarded_allow_ips=forwarded_allow_ips) as desk:
        yield desk


def add_users(repository: Repository) -> str:
    """alice (reviewer) and oscar (observer); alice's new API token."""
    add_user(repository, "alice", PASSWORD, role="reviewer", now=utcnow())
    add_user(repository, "oscar", PASSWORD, role="observer", now=utcnow())
    return rotate_token(repository, "alice")


@contextmanager
def running_desk(
    database_url: str,
    *,
    clock: Callable[[], datetime] = utcnow,
    forwarded_allow_ips: str | None = None,
) -> Iterator[Desk]:
    """The app over `database_url` on a real uvicorn server on 127.0.0.1 (trusting a proxy's
    X-Forwarded-* headers from `forwarded_allow_ips`, as `pipeline serve` does)."""
    database = Database(database_url)
    database.ensure_schema()
    repository = Repository(database)
    token = add_users(repository)
    app = create_app(
        repository, secret_key="test-secret-" + "x" * 32, auth_token=TEAM_TOKEN, clock=clock
    )
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=0,
            log_level="warning",
            lifespan="off",
            proxy_headers=forwarded_allow_ips is not None,
            forwarded_allow_ips=forwarded_allow_ips or "",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the desk server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield Desk(f"http://127.0.0.1:{port}", database_url, repository, token)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        database.dispose()


COVERAGE_CITIES = ("Islamabad", "Karachi", "Lahore", "Quetta", "Peshawar", "Multan", "Sialkot")


def coverage_story(site: Site, index: int) -> dict[str, str]:
    """Story `index` of the single-entity coverage (its own title and text: no duplicate of
    another), served by `site`; its feed item."""
    city = COVERAGE_CITIES[index % len(COVERAGE_CITIES)]
    title = f"Missile body in the news, report {index + 1} from {city}"
    paragraphs = [
        f"Report {index + 1}: officials in {city} discussed the National Development "
        f"Complex on day {index + 1} of the session, citing filing number {7100 + index}.",
        f"The {city} bureau said item {index + 1} concerned the sanctions list.",
    ]
    return story(site, f"/story-{index}", title, paragraphs)


def seed_coverage(site: Site, database_url: str, directory: Path, count: int) -> None:
    """`count` distinct stories naming the National Development Complex (short texts with
    their own titles, so that none is a duplicate of another), one feed, one real run."""
    items = [coverage_story(site, index) for index in range(count)]
    run_feed(site, database_url, directory, items, name="Coverage Wire", path="/coverage.xml")


FOUR_ENTITY_STORY = [
    "The Treasury on Wednesday named four Pakistani organisations over the long-range "
    "ballistic missile programme: the National Development Complex, Akhtar and Sons Private "
    "Limited, Affiliates International and Rockside Enterprise, all based in Karachi or "
    "Islamabad.",
    "Officials said Affiliates International and Rockside Enterprise procured missile-"
    "applicable items for the National Development Complex, while Akhtar and Sons Private "
    "Limited supplied vehicle chassis for its launchers from Karachi.",
    "Pakistan's foreign office rejected the designations of the four Karachi and Islamabad "
    "organisations and said the missile programme was for national defence.",
]


def seed_review_desk(site: Site, database_url: str, directory: Path) -> None:
    """The desk as an analyst finds it: a story naming four entities, the NDC story with a
    second copy, a forum post and some single-entity coverage, in one run."""
    items = [
        story(site, "/four", "Treasury names four Pakistani suppliers", FOUR_ENTITY_STORY),
        *flagged_stories(site),
        *(coverage_story(site, index) for index in range(5)),
    ]
    run_feed(site, database_url, directory, items)
