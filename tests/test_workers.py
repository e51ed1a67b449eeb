"""Several workers sharing one database, as operators run them: real `python -m pipeline`
processes, a loopback news site of 30 feeds and the real PostgreSQL (SQLite for the
two-process race). Every wait is bounded; daemons are stopped with SIGTERM and must exit 0.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from storage.db import Database
from tests.db_engines import database_url
from tests.site import Page, Site, article_html, rss

REPO = Path(__file__).resolve().parent.parent
FEEDS = 30
PER_WORKER = 4  # fetch.concurrency and fetch.per_host: a worker's feed polls in flight at most
WAIT_LIMIT = 60.0  # seconds: the bound of every wait in this file
NDC_SENTENCE = (
    "The United States designated Pakistan's National Development Complex, the state-owned "
    "body behind the long-range ballistic missile programme, under Executive Order 13382."
)
VOCABULARY = [
    "harbour", "council", "budget", "river", "market", "school", "bridge", "farmers", "rainfall",
    "clinic", "teachers", "road", "festival", "museum", "library", "tram", "station", "bakery",
    "orchard", "weavers", "pottery", "village", "mayor", "ferry", "lighthouse", "choir", "league",
    "stadium", "gardens", "bicycle", "parade", "tenants", "orchestra", "volunteers", "canal",
    "pension", "nurses", "archive", "quarry", "vineyard", "mill", "theatre", "lantern", "meadow",
    "workshop", "newspaper"
]  # fmt: skip


# ---- a loopback news site --------------------------------------------------------------------


class Gate:
    """Holds requests for `paths` until `needed` of them are waiting at once, then lets every
    request through. Reaching `needed` proves that many polls were in flight together."""

    def __init__(self, paths: set[str], needed: int) -> None:
        self.paths, self.needed = paths, needed
        self.opened = False
        self._waiting = 0
        self._condition = threading.Condition()

    def pass_through(self, path: str) -> None:
        if path not in self.paths:
            return
        with self._condition:
            self._waiting += 1
            if self._waiting >= self.needed:
                self.opened = True
                self._condition.notify_all()
            self._condition.wait_for(lambda: self.opened, timeout=WAIT_LIMIT)


class LoadSite(Site):
    """tests.site.Site plus a gate for feed requests and pages that hang until released."""

    def __init__(self) -> None:
        self.gate: Gate | None = None
        self.hangs: dict[str, threading.Event] = {}
        self.started: Counter[str] = Counter()  # requests begun, by path
        super().__init__()
        self.server.handle_error = lambda *_args: None  # type: ignore[method-assign]

    def _handler(self) -> Any:
        site = self

        class Handler(super()._handler()):  # type: ignore[misc]
            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                with site._lock:
                    site.started[path] += 1
                if site.gate is not None:
                    site.gate.pass_through(path)
                hang = site.hangs.get(path)
                if hang is not None:
                    hang.wait(WAIT_LIMIT)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    super().do_GET()  # raises when the worker that asked was killed

        return Handler


@pytest.fixture
def load_site() -> Iterator[LoadSite]:
    site = LoadSite()
    thread = threading.Thread(target=site.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        for hang in site.hangs.values():
            hang.set()
        site.server.shutdown()
        site.server.server_close()


def paragraphs(seed: str, ndc: bool) -> list[str]:
    """Three paragraphs of text unlike any other seed's (no near-duplicates by accident)."""
    rng = random.Random(seed)
    texts = [
        " ".join(rng.choice(VOCABULARY) for _ in range(40)).capitalize() + "." for _ in range(3)
    ]
    return [f"Report {seed}: {texts[0]}", NDC_SENTENCE if ndc else texts[1], texts[2]]


@dataclass
class Corpus:
    """What the site serves and what the database must hold after one round."""

    feed_paths: list[str] = field(default_factory=list)
    article_paths: set[str] = field(default_factory=set)
    ndc_stories: int = 0  # stories that name the National Development Complex
    copies: int = 0  # articles whose text is a verbatim copy of an earlier article's


def build_corpus(site: Site, feeds: int = FEEDS) -> Corpus:
    """`feeds` feeds of three own articles each (every third feed's first one names NDC), plus
    links several feeds share (NDC, 5 of them) and one NDC story syndicated verbatim at three
    addresses: races on one URL, on one content hash and on one flag."""
    corpus = Corpus()
    syndicated = paragraphs("syndicated", ndc=True)
    for number in range(feeds):
        links = [f"/f{number}/a{index}" for index in range(3)]
        for index, path in enumerate(links):
            ndc = index == 0 and number % 3 == 0
            _publish_page(site, corpus, path, paragraphs(path, ndc), ndc)
        shared = f"/shared/{number % 5}"
        links.append(shared)
        if shared not in corpus.article_paths:
            _publish_page(site, corpus, shared, paragraphs(shared, ndc=True), ndc=True)
        if number % 10 == 0:
            copy = f"/copy/{number}"
            links.append(copy)
            first_copy = not any(path.startswith("/copy/") for path in corpus.article_paths)
            _publish_page(site, corpus, copy, syndicated, ndc=first_copy)
            corpus.copies += 0 if first_copy else 1
        feed_path = f"/feed/{number}.xml"
        items = [{"title": f"Story at {path}", "link": site.url(path)} for path in links]
        site.add(feed_path, _feed_page(items, number))
        corpus.feed_paths.append(feed_path)
    return corpus


def _publish_page(site: Site, corpus: Corpus, path: str, text: list[str], ndc: bool) -> None:
    site.add(path, Page(article_html(f"Story at {path}", text)))
    corpus.article_paths.add(path)
    corpus.ndc_stories += int(ndc)


def _feed_page(items: list[dict[str, str]], number: int) -> Page:
    return Page(rss(items, title=f"Feed {number}"), content_type="application/rss+xml")


# ---- processes and the database --------------------------------------------------------------


def write_config(path: Path, database: str, site: Site, corpus: Corpus, **schedule: object) -> Path:
    document = {
        "database": database,
        "fetch": {
            "allow_private_addresses": True,
            "extract_workers": 0,
            "timeout": WAIT_LIMIT,
            "deadline": WAIT_LIMIT * 2,
            "concurrency": PER_WORKER,
            "per_host": PER_WORKER,
            "host_delay": 0,  # every load-site feed and page is on one loopback host
        },
        "schedule": {"interval": "1h", "tick": 0.5, **schedule},
        "feeds": [
            {"name": f"feed-{number}", "url": site.url(feed_path)}
            for number, feed_path in enumerate(corpus.feed_paths)
        ],
    }
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def child_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PIPELINE_")}
    return {**env, "PYTHONPATH": str(REPO)}


@dataclass
class Process:
    """A `python -m pipeline` process whose stderr goes to a file (a pipe could fill up)."""

    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stderr(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def terminate(self) -> int:
        self.popen.send_signal(signal.SIGTERM)
        return self.popen.wait(timeout=WAIT_LIMIT)


class Processes:
    """Starts pipeline processes and kills whatever is left of them at the end of a test."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.started: list[Process] = []

    def start(self, *args: str, launcher: list[str] | None = None) -> Process:
        log = self.directory / f"process-{len(self.started)}.log"
        command = launcher or [sys.executable, "-m", "pipeline"]
        with log.open("wb") as stderr:
            popen = subprocess.Popen(
                [*command, *args],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env=child_env(),
                cwd=self.directory,
            )
        process = Process(popen, log)
        self.started.append(process)
        return process

    def finish(self) -> None:
        for process in self.started:
            if process.popen.poll() is None:
                process.popen.kill()
                process.popen.wait(timeout=WAIT_LIMIT)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    started = Processes(tmp_path)
    try:
        yield started
    finally:
        started.finish()


@pytest.fixture
def postgres_url(tmp_path: Path) -> Iterator[str]:
    with database_url("postgresql", tmp_path) as url:
        yield url


def rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql))]
    finally:
        engine.dispose()


def scalar(url: str, sql: str) -> Any:
    return rows(url, sql)[0][0]


def table_count(url: str, table: str) -> int:
    """Rows of `table`; 0 while the schema does not exist yet (workers still starting)."""
    try:
        return int(scalar(url, f"SELECT COUNT(*) FROM {table}"))  # noqa: S608 (a constant name)
    except Exception:  # the first worker has not created the schema yet
        return 0


def lease_of(url: str, feed: str) -> tuple[str, datetime]:
    ((owner, expires_at),) = rows(
        url,
        f"SELECT lease_owner, lease_expires_at FROM feed WHERE name = '{feed}'",  # noqa: S608
    )
    return owner, expires_at


def wait_until(what: str, condition: Callable[[], bool], running: list[Process]) -> None:
    deadline = time.monotonic() + WAIT_LIMIT
    while not condition():
        for process in running:
            assert process.popen.poll() is None, f"a worker died: {process.stderr()[-2000:]}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def assert_clean_logs(*processes: Process) -> None:
    for process in processes:
        log = process.stderr()
        for trouble in ("Traceback", "database is locked", "deadlock", "cannot claim"):
            assert trouble not in log, f"{trouble!r} in a worker's log:\n{log[-3000:]}"


def assert_each_article_stored_once(url: str, site: Site, corpus: Corpus) -> None:
    stored = [path for (path,) in rows(url, "SELECT url FROM article")]
    assert sorted(stored) == sorted(site.url(path) for path in corpus.article_paths)
    assert scalar(url, "SELECT COUNT(DISTINCT canonical_url) FROM article") == len(stored)
    copies = scalar(url, "SELECT COUNT(*) FROM article WHERE duplicate_of IS NOT NULL")
    assert copies == corpus.copies
    assert scalar(url, "SELECT COUNT(*) FROM story") == len(stored) - corpus.copies


def assert_flags_once(url: str, corpus: Corpus) -> None:
    doubled = rows(
        url,
        "SELECT story_id, entity_id FROM flag GROUP BY story_id, entity_id HAVING COUNT(*) > 1",
    )
    assert doubled == []
    ndc = scalar(
        url,
        "SELECT COUNT(*) FROM flag JOIN entity ON entity.id = flag.entity_id "
        "WHERE entity.name = 'National Development Complex'",
    )
    assert ndc == corpus.ndc_stories


def feed_hits(site: Site, corpus: Corpus) -> dict[str, int]:
    return {path: len(site.hits(path)) for path in corpus.feed_paths}


# ---- several daemons on PostgreSQL -----------------------------------------------------------


def test_three_daemons_poll_every_feed_once_and_store_everything_once(
    load_site: LoadSite, postgres_url: str, processes: Processes, tmp_path: Path
) -> None:
    corpus = build_corpus(load_site)
    # No single worker can hold more than PER_WORKER feed requests: the gate opens only when
    # all three hold disjoint leases at the same time.
    load_site.gate = Gate(set(corpus.feed_paths), needed=3 * PER_WORKER)
    config = write_config(tmp_path / "feeds.yaml", postgres_url, load_site, corpus)
    workers = [processes.start("--config", str(config), "run") for _ in range(3)]

    wait_until(
        "one round of every feed",
        lambda: table_count(postgres_url, "fetch_attempt") >= FEEDS,
        workers,
    )
    time.sleep(1.5)  # three more ticks: a second poll of any feed would show now
    assert [worker.terminate() for worker in workers] == [0, 0, 0]

    assert load_site.gate.opened
    assert feed_hits(load_site, corpus) == dict.fromkeys(corpus.feed_paths, 1)
    attempts = rows(postgres_url, "SELECT feed_id, outcome, worker FROM fetch_attempt")
    assert len(attempts) == FEEDS
    assert len({feed_id for feed_id, _outcome, _worker in attempts}) == FEEDS
    assert {outcome for _feed, outcome, _worker in attempts} == {"ok"}
    assert len({worker for _feed, _outcome, worker in attempts}) == 3
    assert scalar(postgres_url, "SELECT COUNT(*) FROM feed WHERE lease_owner IS NOT NULL") == 0
    assert_each_article_stored_once(postgres_url, load_site, corpus)
    assert_flags_once(postgres_url, corpus)
    assert_clean_logs(*workers)


def test_killed_workers_feed_is_taken_over_at_once_and_another_worker_completes_it(
    load_site: LoadSite, postgres_url: str, processes: Processes, tmp_path: Path
) -> None:
    corpus = build_corpus(load_site, feeds=12)
    feeds = len(corpus.feed_paths)
    slow_feed, stuck_page = "/feed/7.xml", "/f7/a1"
    load_site.hangs[stuck_page] = threading.Event()
    config = write_config(tmp_path / "feeds.yaml", postgres_url, load_site, corpus, lease="3s")

    victim = processes.start("--config", str(config), "run")
    wait_until(
        "the victim stuck mid-poll with everything else done",
        lambda: (
            load_site.started[stuck_page] == 1
            and table_count(postgres_url, "fetch_attempt") == feeds - 1
            and table_count(postgres_url, "article") == len(corpus.article_paths) - 1
        ),
        [victim],
    )
    bystander = processes.start("--config", str(config), "run")
    wait_until("the bystander to start", lambda: "started with" in bystander.stderr(), [bystander])
    first_lease = lease_of(postgres_url, "feed-7")
    time.sleep(3.5)  # longer than the lease: the live victim renews it, nobody polls again
    owner, lease_expires_at = lease_of(postgres_url, "feed-7")
    assert f":{victim.pid}:" in owner and first_lease[0] == owner
    assert lease_expires_at > first_lease[1]
    assert load_site.started[stuck_page] == 1 and len(load_site.hits(slow_feed)) == 1

    victim.popen.send_signal(signal.SIGKILL)
    assert victim.popen.wait(timeout=WAIT_LIMIT) == -signal.SIGKILL
    load_site.hangs[stuck_page].set()
    takers = [bystander, processes.start("--config", str(config), "run")]
    wait_until("the second taker to start", lambda: "started with" in takers[1].stderr(), takers)
    wait_until(
        "the stuck feed taken over",
        lambda: table_count(postgres_url, "fetch_attempt") == feeds,
        takers,
    )
    time.sleep(1.5)  # three more ticks: a second takeover would show now
    assert [taker.terminate() for taker in takers] == [0, 0]

    ((worker, started_at, new_entries),) = rows(
        postgres_url,
        "SELECT a.worker, a.started_at, a.new_entries FROM fetch_attempt a "
        "JOIN feed f ON f.id = a.feed_id WHERE f.name = 'feed-7'",
    )
    assert any(f":{taker.pid}:" in worker for taker in takers)
    # The victim's pid is gone on this host: taken over at once, not when its lease ran out.
    assert isinstance(started_at, datetime) and started_at < lease_expires_at
    took_over = f"taking over 1 feeds from dead worker {owner.split(':')[0]}:{victim.pid}"
    assert sum(took_over in taker.stderr() for taker in takers) == 1
    assert new_entries == 1  # the entries stored before the kill are not stored again
    hits = feed_hits(load_site, corpus)
    assert hits.pop(slow_feed) == 2
    assert set(hits.values()) == {1}
    assert len(load_site.hits(stuck_page)) == 2
    assert len(load_site.hits("/f7/a0")) == len(load_site.hits("/f7/a2")) == 1
    assert scalar(postgres_url, "SELECT COUNT(*) FROM feed WHERE lease_owner IS NOT NULL") == 0
    assert_each_article_stored_once(postgres_url, load_site, corpus)
    assert_flags_once(postgres_url, corpus)
    assert_clean_logs(*takers)


# ---- two processes on one SQLite file --------------------------------------------------------


def test_two_run_once_processes_share_one_sqlite_file(
    load_site: LoadSite, processes: Processes, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    corpus = build_corpus(load_site)
    config = write_config(tmp_path / "feeds.yaml", url, load_site, corpus)

    racers = [processes.start("--config", str(config), "run", "--once") for _ in range(2)]
    codes = [racer.popen.wait(timeout=WAIT_LIMIT * 2) for racer in racers]

    assert codes == [0, 0], [racer.stderr()[-2000:] for racer in racers]
    assert_clean_logs(*racers)
    # `--once` polls every feed that no one holds a lease on: a feed the other process has
    # already finished may be polled again (a conditional GET), but every request is a
    # recorded poll and every feed is polled.
    hits = feed_hits(load_site, corpus)
    assert set(hits.values()) <= {1, 2}
    attempts = dict(
        rows(
            url,
            "SELECT f.url, COUNT(*) FROM fetch_attempt a "
            "JOIN feed f ON f.id = a.feed_id GROUP BY f.url",
        )
    )
    assert attempts == {load_site.url(path): count for path, count in hits.items()}
    assert_each_article_stored_once(url, load_site, corpus)
    assert_flags_once(url, corpus)
    assert scalar(url, "PRAGMA integrity_check") == "ok"


# ---- a database whose schema is behind -------------------------------------------------------

MIGRATIONS = REPO / "storage" / "migrations"
HEAD = ScriptDirectory(str(MIGRATIONS)).get_current_head()
# A release whose migrations go one step further than this one's: the real ones plus this.
NEXT_MIGRATION = f'''"""the release after this one: one more index"""

from alembic import op

revision = "next"
down_revision = "{HEAD}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_next_release_article_language", "article", ["language"])


def downgrade() -> None:
    op.drop_index("ix_next_release_article_language", table_name="article")
'''
# `python -m pipeline` of that release: the same code, pointed at the longer migration chain.
NEXT_RELEASE = (
    "import pathlib, sys, storage.db; "
    "storage.db.MIGRATIONS_DIR = pathlib.Path(sys.argv.pop(1)); "
    "from pipeline.cli.app import main; main()"
)


def next_release(tmp_path: Path) -> list[str]:
    migrations = tmp_path / "next_migrations"
    shutil.copytree(MIGRATIONS, migrations, ignore=shutil.ignore_patterns("__pycache__"))
    (migrations / "versions" / "next_release.py").write_text(NEXT_MIGRATION)
    return [sys.executable, "-c", NEXT_RELEASE, str(migrations)]


def migrate(url: str) -> None:
    database = Database(url)
    database.upgrade()
    database.dispose()


def finished(process: Process) -> tuple[int, list[str]]:
    code = process.popen.wait(timeout=WAIT_LIMIT)
    return code, process.stderr().strip().splitlines()


def test_run_refuses_a_schema_behind_until_db_upgrade(
    database: str, load_site: LoadSite, processes: Processes, tmp_path: Path
) -> None:
    corpus = build_corpus(load_site, feeds=1)
    config = str(write_config(tmp_path / "feeds.yaml", database, load_site, corpus))
    migrate(database)  # this release's schema
    upgraded_release = next_release(tmp_path)

    code, stderr = finished(processes.start("--config", config, "run", launcher=upgraded_release))
    assert code == 1
    assert len(stderr) == 1 and "pipeline db upgrade" in stderr[0], stderr
    assert scalar(database, "SELECT version_num FROM alembic_version") == HEAD
    assert table_count(database, "fetch_attempt") == 0  # refused before polling anything

    upgrade = processes.start("--config", config, "db", "upgrade", launcher=upgraded_release)
    assert finished(upgrade) == (0, [])
    assert scalar(database, "SELECT version_num FROM alembic_version") == "next"
    once = processes.start("--config", config, "run", "--once", launcher=upgraded_release)
    assert finished(once)[0] == 0, once.stderr()
    assert table_count(database, "article") == len(corpus.article_paths)


def test_unknown_schema_revision_is_one_line_and_not_an_upgrade_hint(
    database: str, processes: Processes, tmp_path: Path
) -> None:
    """A database migrated by a newer release: `db upgrade` cannot help, and says so."""
    config = tmp_path / "feeds.yaml"
    config.write_text(yaml.safe_dump({"database": database, "feeds": []}), encoding="utf-8")
    migrate(database)
    engine = create_engine(database)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()

    for command in (["run", "--once"], ["db", "upgrade"]):
        code, stderr = finished(processes.start("--config", str(config), *command))
        assert code == 1
        assert len(stderr) == 1 and "9999" in stderr[0], stderr
        assert "db upgrade" not in stderr[0]
