"""Several `pipeline run` daemons sharing one PostgreSQL database: one round of polls.

``python -m bench.workers [--workers 3] [--steady 1000] [--articles 800] [--kill-after 0.3]``

The feeds are the benchmark web's (``bench.server``, loopback addresses only): ``--steady``
feeds without entries (the cost of claiming, fetching and recording a poll) and the
workload's feeds of 40 articles each (``--articles``, pages fetched, extracted, deduplicated,
matched). A fresh PostgreSQL database is created on the loopback server of the test suite
($PIPELINE_TEST_POSTGRES_URL) and dropped afterwards. The daemons start together after
`pipeline db upgrade` (as docker-compose runs them), with a long interval so that one round
is all they do; the bench waits until every feed has been polled, then stops them with
SIGTERM. The feeds are added not due; the round starts once every daemon is up, by making
every feed due at once. With ``--kill-after F`` the first worker is SIGKILLed once a share F
of the feeds is done, and the leases it held must be taken over when they expire (``--lease``).

Figures, all from the database and the server's request counts:
- feeds/s: feeds / (end of the last poll - start of the first), from fetch_attempt;
- polls per worker (the load share);
- double polls: feeds with more than one fetch_attempt, and feed requests beyond one per feed;
- duplicate rows: articles per canonical URL and flags per (story, entity) beyond one, and
  content duplicates found vs the workload's syndicated copies;
- lease takeovers: feeds the killed worker held that another worker then polled.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.harness import PYTHON, ROOT, server
from bench.server import check_loopback
from bench.workload import Workload
from pipeline.core.config import load_config
from storage.db import Database
from storage.repository import Repository

ADMIN_URL = os.environ.get(
    "PIPELINE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
LOOPBACK = ("127.0.0.1", "localhost", "::1")
TROUBLE = ("Traceback", "deadlock", "cannot claim", "database is locked")


@dataclass
class Daemon:
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> int | None:
        if self.process.poll() is not None:
            return self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=120)


@contextmanager
def fresh_database() -> Iterator[str]:
    admin_url = make_url(ADMIN_URL)
    if admin_url.host not in LOOPBACK:
        raise SystemExit(f"bench: {admin_url.host} is not a loopback address")
    name = f"sw_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def write_config(path: Path, database: str, feeds: list[str], options: argparse.Namespace) -> Path:
    fetch = {"allow_private_addresses": True}  # the benchmark web is loopback addresses
    if options.concurrency:
        fetch["concurrency"] = options.concurrency
    document = {
        "database": database,
        "fetch": fetch,
        "schedule": {"interval": "6h", "tick": "1s", "lease": options.lease},
        "feeds": [{"name": f"feed {index}", "url": url} for index, url in enumerate(feeds)],
    }
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def add_feeds_not_due(config_path: Path) -> None:
    """The feed rows, due in a year: workers that start one after the other find nothing to
    do until the bench makes every feed due at once."""
    config = load_config(config_path)
    database = Database(config.database)
    next_year = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=365)
    Repository(database).sync_feeds(config.feeds, config.schedule.interval, next_year)
    database.dispose()


def start_daemon(config: Path, log: Path) -> Daemon:
    return Daemon(pipeline(config, "run", log=log), log)


def wait_for_start(daemons: list[Daemon], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not all("started with" in daemon.log.read_text(errors="replace") for daemon in daemons):
        if any(daemon.process.poll() is not None for daemon in daemons):
            raise SystemExit("bench: a worker exited while starting")
        if time.monotonic() > deadline:
            raise SystemExit("bench: the workers did not start in time")
        time.sleep(0.2)


def pipeline(config: Path, *args: str, log: Path) -> subprocess.Popen[bytes]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PIPELINE_")}
    with log.open("wb") as stderr:
        return subprocess.Popen(
            [PYTHON, "-m", "pipeline", "--config", str(config), *args],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            cwd=ROOT,
            env={**env, "PYTHONPATH": str(ROOT)},
        )


class Figures:
    """Queries of the finished round."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)

    def value(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(text(sql), params).scalar_one()

    def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        with self.engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql), params)]

    def polled_feeds(self) -> int:
        try:
            return int(self.value("SELECT COUNT(DISTINCT feed_id) FROM fetch_attempt"))
        except Exception:  # the schema is created by `db upgrade` first; never mind a blip
            return 0

    def make_every_feed_due(self) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                text(
                    "UPDATE feed SET next_poll_at = NOW() AT TIME ZONE 'UTC', "
                    "created_at = NOW() AT TIME ZONE 'UTC'"
                )
            )

    def held_by(self, pid: int) -> list[int]:
        return [
            feed_id
            for (feed_id,) in self.rows(
                "SELECT id FROM feed WHERE lease_owner LIKE :owner", owner=f"%:{pid}:%"
            )
        ]

    def round_seconds(self) -> float:
        return float(
            self.value(
                "SELECT EXTRACT(EPOCH FROM MAX(started_at + duration_seconds * INTERVAL '1 second')"
                " - MIN(started_at)) FROM fetch_attempt"
            )
        )

    def summary(self, victim_pid: int | None, victim_leases: list[int]) -> dict[str, Any]:
        polls_per_worker = dict(
            self.rows("SELECT worker, COUNT(*) FROM fetch_attempt GROUP BY worker ORDER BY 2")
        )
        taken_over = 0
        if victim_pid is not None and victim_leases:
            taken_over = int(
                self.value(
                    "SELECT COUNT(DISTINCT feed_id) FROM fetch_attempt "
                    "WHERE feed_id = ANY(:ids) AND worker NOT LIKE :victim",
                    ids=victim_leases,
                    victim=f"%:{victim_pid}:%",
                )
            )
        return {
            "fetch_attempts": self.value("SELECT COUNT(*) FROM fetch_attempt"),
            "poll_outcomes": dict(
                self.rows("SELECT outcome, COUNT(*) FROM fetch_attempt GROUP BY outcome")
            ),
            "polls_per_worker": sorted(polls_per_worker.values()),
            "feeds_polled_more_than_once": self.value(
                "SELECT COUNT(*) FROM (SELECT feed_id FROM fetch_attempt GROUP BY feed_id "
                "HAVING COUNT(*) > 1) AS doubled"
            ),
            "articles": self.value("SELECT COUNT(*) FROM article"),
            "duplicate_article_rows": self.value(
                "SELECT COUNT(*) - COUNT(DISTINCT canonical_url) FROM article"
            ),
            "content_duplicates_found": self.value(
                "SELECT COUNT(*) FROM article WHERE duplicate_of IS NOT NULL"
            ),
            "flags": self.value("SELECT COUNT(*) FROM flag"),
            "duplicate_flag_rows": self.value(
                "SELECT COUNT(*) FROM (SELECT story_id, entity_id FROM flag "
                "GROUP BY story_id, entity_id HAVING COUNT(*) > 1) AS doubled"
            ),
            "leases_left": self.value("SELECT COUNT(*) FROM feed WHERE lease_owner IS NOT NULL"),
            "victim_leases_at_kill": len(victim_leases),
            "lease_takeovers": taken_over,
        }

    def close(self) -> None:
        self.engine.dispose()


def run_round(options: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    check_loopback()
    with server(options.articles, options.latency, options.seed) as web, fresh_database() as url:
        workload = Workload(options.articles, port=web.port, pages=1, seed=options.seed)
        feeds = [workload.steady_url(f) for f in range(options.steady)]
        feeds += [workload.feed_url(f) for f in range(workload.feeds if options.articles else 0)]
        config = write_config(scratch / "feeds.yaml", url, feeds, options)
        upgrade = pipeline(config, "db", "upgrade", log=scratch / "upgrade.log")
        if upgrade.wait(timeout=120) != 0:
            raise SystemExit((scratch / "upgrade.log").read_text())
        add_feeds_not_due(config)
        web.stats(reset=True)
        figures = Figures(url)
        daemons = [start_daemon(config, scratch / f"worker{n}.log") for n in range(options.workers)]
        victim_pid, victim_leases = None, []
        try:
            wait_for_start(daemons, options.timeout)
            figures.make_every_feed_due()  # the round starts with every worker running
            started = time.monotonic()
            deadline = started + options.timeout
            while (polled := figures.polled_feeds()) < len(feeds):
                if (
                    options.kill_after
                    and victim_pid is None
                    and polled >= options.kill_after * len(feeds)
                    and (victim_leases := figures.held_by(daemons[0].process.pid))
                ):  # the victim is mid-poll: it holds leases
                    daemons[0].process.send_signal(signal.SIGKILL)
                    victim_pid = daemons[0].process.pid
                if time.monotonic() > deadline:
                    raise SystemExit(f"bench: only {polled} of {len(feeds)} feeds polled in time")
                time.sleep(0.2)
            wall = time.monotonic() - started
            time.sleep(3)  # three ticks: a second poll of any feed would show now
        finally:
            exit_codes = [daemon.stop() for daemon in daemons]
        logs = "".join(daemon.log.read_text(errors="replace") for daemon in daemons)
        requests = web.stats()
        round_seconds = figures.round_seconds()
        result = {
            "workers": options.workers,
            "feeds": len(feeds),
            "steady_feeds": options.steady,
            "article_feeds": len(feeds) - options.steady,
            "round_seconds": round(round_seconds, 2),
            "feeds_per_second": round(len(feeds) / round_seconds, 1),
            "wall_seconds": round(wall, 2),
            "feed_requests": requests.get("feeds", 0) + requests.get("steady", 0),
            "page_requests": requests.get("news", 0) + requests.get("wire", 0),
            "exit_codes": exit_codes,
            "log_trouble": {word: logs.count(word) for word in TROUBLE if word in logs},
            **figures.summary(victim_pid, victim_leases),
            "load_average_1m": round(os.getloadavg()[0], 2),
            "cores": os.cpu_count(),
        }
        figures.close()
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--steady", type=int, default=1000, help="feeds without entries")
    parser.add_argument("--articles", type=int, default=800, help="articles, 40 per feed")
    parser.add_argument("--latency", type=float, default=0.15, help="seconds per answer, mean")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--lease", default="10m", help="schedule.lease, e.g. 10s with --kill-after")
    parser.add_argument("--concurrency", type=int, default=0, help="fetch.concurrency")
    parser.add_argument("--kill-after", type=float, default=0.0, help="share of feeds done")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds for the round")
    parser.add_argument("--keep", default="", help="a folder for the config and the logs")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        print(json.dumps(run_round(options, Path(options.keep or scratch)), indent=2))
    sys.exit(0)


if __name__ == "__main__":
    main()
