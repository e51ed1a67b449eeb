"""The desk under test: a database seeded by the real pipeline, and `pipeline serve`'s app on a
real uvicorn server on 127.0.0.1 (a free port), in a thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
import yaml

from pipeline.core.clock import utcnow
from pipeline.desk.app import create_app
from pipeline.desk.users import add_user, rotate_token
from storage.db import Database
from storage.repository import Repository
from tests.conftest import run_once
from tests.site import Page, Site, article_html, rss

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
    site.add("/ndc", Page(article_html("US sanctions Pakistani missile body", NDC_STORY)))
    site.add("/ndc-copy", Page(article_html("US sanctions Pakistani missile body", NDC_STORY)))
    site.add("/forum", Page(article_html("Forum post on the missile sanctions", HOSTILE_STORY)))
    site.add("/cricket", Page(article_html("Pakistan win in Karachi", CRICKET_STORY)))
    items = [
        {"title": "US sanctions Pakistani missile body", "link": site.url("/ndc")},
        {"title": "US sanctions Pakistani missile body", "link": site.url("/ndc-copy")},
        {"title": "Forum post on the missile sanctions", "link": site.url("/forum")},
        {"title": "Pakistan win in Karachi", "link": site.url("/cricket")},
    ]
    site.add("/feed.xml", Page(rss(items), content_type="application/rss+xml"))
    config = {
        "database": database_url,
        "fetch": {"allow_private_addresses": True, "extract_workers": 0, "timeout": 5},
        "schedule": {"interval": "15m"},
        "feeds": [{"name": "Loopback News", "url": site.url("/feed.xml")}],
    }
    path = directory / "feeds.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    run_once(path)


def add_users(repository: Repository) -> str:
    """alice (reviewer) and oscar (observer); alice's new API token."""
    add_user(repository, "alice", PASSWORD, role="reviewer", now=utcnow())
    add_user(repository, "oscar", PASSWORD, role="observer", now=utcnow())
    return rotate_token(repository, "alice")


@contextmanager
def running_desk(database_url: str) -> Iterator[Desk]:
    """The app over `database_url` on a real uvicorn server on 127.0.0.1."""
    database = Database(database_url)
    database.ensure_schema()
    repository = Repository(database)
    token = add_users(repository)
    app = create_app(repository, secret_key="test-secret-" + "x" * 32, auth_token=TEAM_TOKEN)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
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
