"""Helpers of the crash-recovery tests: a site of slow, distinct articles, real `pipeline`
processes, their descendants, and what the database holds afterwards."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.exc import OperationalError, ProgrammingError

from tests.faults.hostile import HostileServer, Request, respond
from tests.faults.support import RSS_TYPE, rows, rss_document, rss_item
from tests.site import article_html

ROOT = Path(__file__).resolve().parents[2]
WORDS = (
    "harbour council budget river valley engineer tariff cargo season monsoon election court "
    "ministry freight railway textile cotton wheat province governor audit pension college "
    "bridge highway turbine reservoir contract tender bidder export import ledger auditor "
    "province district hospital vaccine clinic festival cricket stadium pitch bowler batsman "
    "journalist editor printer bulletin forecast drought harvest orchard mango citrus dairy"
)
ENTITY_SENTENCES = {
    "ndc": "Officials said the National Development Complex had ordered parts for its missiles.",
    "rockside": "Rockside Enterprise, a Karachi trading house, denied shipping any machinery.",
}


def story_text(number: int) -> list[str]:
    """Paragraphs of their own for article `number` (no two are near-duplicates); one in three
    names NDC, one in three Rockside Enterprise, the rest nobody on the watchlist."""
    rng = random.Random(number)
    paragraphs = [
        " ".join(rng.choice(WORDS.split()) for _ in range(40)).capitalize() + "." for _ in range(3)
    ]
    entity = ("ndc", "rockside", None)[number % 3]
    if entity:
        paragraphs.insert(1, ENTITY_SENTENCES[entity])
    return [f"Report number {number} from the desk.", *paragraphs]


class SlowFeeds:
    """`feeds` feeds of `articles` articles each; every article page takes `delay` seconds,
    so a run spends its time fetching and storing, where the kills land."""

    def __init__(self, server: HostileServer, *, feeds: int, articles: int, delay: float) -> None:
        self.server, self.delay = server, delay
        self.links: dict[str, list[str]] = {}
        for feed in range(feeds):
            links = [server.url(f"/article?n={feed * 1000 + n}") for n in range(articles)]
            self.links[f"feed-{feed}"] = links
            items = [rss_item(link, f"Report {link.rsplit('=', 1)[1]}") for link in links]
            server.route(f"/feed-{feed}.xml", respond(rss_document(items), content_type=RSS_TYPE))
        server.route("/article", self.article)

    @property
    def feed_configs(self) -> list[dict[str, str]]:
        return [{"name": name, "url": self.server.url(f"/{name}.xml")} for name in self.links]

    @property
    def all_links(self) -> set[str]:
        return {link for links in self.links.values() for link in links}

    def pages_served(self) -> int:
        return len(self.server.hits("/article"))

    def article(self, connection: Any, request: Request) -> None:
        number = int(request.path.rsplit("=", 1)[1])
        time.sleep(self.delay)
        respond(article_html(f"Report {number}", story_text(number)))(connection, request)


def pipeline_process(config: Path, *args: str, log: Path | None = None) -> subprocess.Popen[bytes]:
    """`python -m pipeline --config CONFIG ARGS` as its own process; stderr to `log`."""
    stderr = log.open("ab") if log else subprocess.DEVNULL
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "pipeline", "--config", str(config), *args],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    finally:
        if log:
            stderr.close()  # type: ignore[union-attr]


def kill_at_random(process: subprocess.Popen[bytes], site: SlowFeeds, rng: random.Random) -> None:
    """SIGKILL after 0 to 6 more article pages were served (start-up, claim, ingestion)."""
    target = site.pages_served() + rng.randint(0, 6)
    with contextlib.suppress(AssertionError):
        wait_until(lambda: site.pages_served() >= target or process.poll() is not None, 20)
    time.sleep(rng.uniform(0, 0.1))
    kill(process)


def wait_until(condition: Callable[[], bool], timeout: float, every: float = 0.02) -> float:
    """Seconds until `condition()` held; AssertionError after `timeout`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout}s")
        time.sleep(every)
    return time.monotonic() - started


def kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (from /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z":
            parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    """The pids of `pids` that still run (zombies do not)."""
    running = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            running.add(pid)
    return running


def rows_once_created(config: Path, query: str) -> list[tuple[Any, ...]]:
    """`rows`, or [] while the first process has not created the schema yet."""
    try:
        return rows(config, query)
    except (OperationalError, ProgrammingError):  # no such table (SQLite, PostgreSQL)
        return []


def stored_links(config: Path) -> list[str]:
    return [row[0] for row in rows_once_created(config, "SELECT url FROM article ORDER BY url")]


def stop(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM, as an operator stops the daemon; its exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    return process.wait(timeout=30)


def flag_keys(config: Path) -> set[tuple[str, str]]:
    """(article link, entity) of every flag: comparable between databases."""
    query = "SELECT a.url, f.entity_id FROM flag f JOIN article a ON a.id = f.article_id"
    return {(url, entity) for url, entity in rows(config, query)}


def fetch_rows_by_worker(config: Path, feed: str) -> list[tuple[Any, ...]]:
    return rows(
        config,
        "SELECT a.worker, a.outcome FROM fetch_attempt a JOIN feed f ON f.id = a.feed_id"
        " WHERE f.name = :name ORDER BY a.id",
        name=feed,
    )
