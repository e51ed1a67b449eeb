"""Crash recovery: real `pipeline` processes SIGKILLed, SIGSTOPped and restarted, on SQLite and
PostgreSQL, against slow loopback feeds (pipeline.poll.leases).

- a dead worker of this host is taken over at once (its pid is gone, or now belongs to a
  process started at another time);
- a dead worker of another host loses its feeds when its lease runs out (`schedule.lease`);
- a worker frozen past its lease stores nothing twice when it resumes (fencing);
- the extraction workers, the forkserver and the resource tracker die with the daemon.
"""

from __future__ import annotations

import asyncio
import logging
import random
import signal
import socket
import sqlite3
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, update
from sqlmodel import col

from pipeline.core import processes
from pipeline.core.clock import utcnow
from pipeline.core.config import load_config
from pipeline.poll.leases import LeaseOwner
from pipeline.poll.scheduler import Worker
from storage.models import Feed
from tests.conftest import run_once
from tests.db_engines import database_url
from tests.faults.crash_support import (
    SlowFeeds,
    alive,
    descendants,
    fetch_rows_by_worker,
    flag_keys,
    kill,
    kill_at_random,
    pipeline_process,
    rows_once_created,
    stop,
    stored_links,
    wait_until,
)
from tests.faults.hostile import serve
from tests.faults.support import assert_consistent, write_config

KILLS = 6
TICK = 0.5  # seconds: the daemons here look for due feeds twice a second


def set_lease(config: Path, feed: str, owner: str, seconds: float) -> None:
    """Write a lease as another worker would have left it (the feed due now)."""
    now = utcnow()
    engine = create_engine(load_config(config).database)
    try:
        with engine.begin() as connection:
            changed = connection.execute(
                update(Feed)
                .where(col(Feed.name) == feed)
                .values(
                    lease_owner=owner,
                    lease_expires_at=now + timedelta(seconds=seconds),
                    next_poll_at=now,
                )
            )
            assert changed.rowcount == 1
    finally:
        engine.dispose()


def test_six_sigkills_of_run_once_then_one_run_store_every_page_once(
    tmp_path: Path, database: str
) -> None:
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    with serve() as server:
        site = SlowFeeds(server, feeds=2, articles=12, delay=0.03)
        config = write_config(tmp_path, database, site.feed_configs, fetch={"per_host": 4})
        for _ in range(KILLS):  # during start-up, the claim, or mid-ingestion
            kill_at_random(pipeline_process(config, "run", "--once"), site, rng)
        log = tmp_path / "final.log"
        assert pipeline_process(config, "run", "--once", log=log).wait(timeout=60) == 0, seed
        # The same feeds, uninterrupted, into a database of their own.
        reference = tmp_path / "reference"
        reference.mkdir()
        uninterrupted = write_config(
            reference, f"sqlite:///{reference / 'ref.db'}", site.feed_configs
        )
        run_once(uninterrupted)

    assert stored_links(config) == sorted(site.all_links), seed  # every page, each once
    assert flag_keys(config) == flag_keys(uninterrupted) != set(), seed
    assert_consistent(config)  # integrity_check ok (SQLite), nothing half-stored or leased


def test_killed_daemon_restarted_resumes_within_10_seconds(tmp_path: Path) -> None:
    with serve() as server:
        site = SlowFeeds(server, feeds=1, articles=30, delay=0.05)
        config = write_config(
            tmp_path,
            f"sqlite:///{tmp_path / 'pipeline.db'}",
            site.feed_configs,
            fetch={"per_host": 1},
            schedule={"tick": f"{TICK}s"},
        )
        first = pipeline_process(config, "run")
        try:
            wait_until(lambda: site.pages_served() >= 3, 30)
        finally:
            kill(first)
        served_when_killed, killed_at = site.pages_served(), time.monotonic()
        log = tmp_path / "restarted.log"
        second = pipeline_process(config, "run", log=log)
        try:
            wait_until(lambda: site.pages_served() > served_when_killed, 10)
            resumed_after = time.monotonic() - killed_at
            wait_until(lambda: len(stored_links(config)) == len(site.all_links), 30)
        finally:
            stopped = stop(second)

    assert stopped == 0
    assert resumed_after < 10
    assert "taking over 1 feeds from dead worker" in log.read_text()
    assert stored_links(config) == sorted(site.all_links)
    assert_consistent(config)


def test_no_child_of_a_killed_daemon_is_alive_10_seconds_later(tmp_path: Path) -> None:
    with serve() as server:
        site = SlowFeeds(server, feeds=1, articles=20, delay=0.05)
        config = write_config(
            tmp_path,
            f"sqlite:///{tmp_path / 'pipeline.db'}",
            site.feed_configs,
            fetch={"extract_workers": 2, "per_host": 2},
        )
        daemon = pipeline_process(config, "run")
        try:
            wait_until(lambda: len(stored_links(config)) >= 2, 60)  # the pool is up and working
            children = descendants(daemon.pid)
        finally:
            kill(daemon)
        try:
            wait_until(lambda: not alive(children), 10, every=0.1)
        finally:
            for pid in alive(children):  # leave nothing behind for the other tests
                subprocess.run(["kill", "-9", str(pid)], check=False)
    # The forkserver, the resource tracker and the extraction workers.
    assert len(children) >= 4


def test_two_workers_on_postgresql_one_killed_the_other_takes_over_at_once(
    tmp_path: Path,
) -> None:
    with database_url("postgresql", tmp_path) as postgres, serve() as server:
        site = SlowFeeds(server, feeds=4, articles=8, delay=0.15)
        config = write_config(
            tmp_path,
            postgres,
            site.feed_configs,
            fetch={"concurrency": 1, "per_host": 8},  # two feeds in flight per worker
            schedule={"tick": f"{TICK}s"},
        )
        survivor, victim = pipeline_process(config, "run"), pipeline_process(config, "run")
        try:
            wait_until(lambda: len(lease_pids(config)) == 2, 30)
            victims_feeds = held_by(config, victim.pid)
            kill(victim)
            took_over = wait_until(lambda: held_by(config, victim.pid) == set(), 10)
            wait_until(lambda: len(stored_links(config)) == len(site.all_links), 30)
        finally:
            kill(victim)
            stopped = stop(survivor)

        assert stopped == 0
        assert victims_feeds and took_over < 2 * TICK + 2
        assert stored_links(config) == sorted(site.all_links)  # nothing doubled
        for feed in site.links:  # one poll of each feed recorded, the dead worker's none
            assert len(fetch_rows_by_worker(config, feed)) == 1, feed
        assert_consistent(config)


def lease_pids(config: Path) -> set[int]:
    owners = rows_once_created(config, "SELECT lease_owner FROM feed WHERE lease_owner IS NOT NULL")
    return {parsed.pid for (owner,) in owners if (parsed := LeaseOwner.parse(owner))}


def held_by(config: Path, pid: int) -> set[str]:
    leased = rows_once_created(
        config, "SELECT name, lease_owner FROM feed WHERE lease_owner IS NOT NULL"
    )
    return {name for name, owner in leased if (p := LeaseOwner.parse(owner)) and p.pid == pid}


def waiting_for_a_lock(config: Path) -> bool:
    """Some writer holds the database's write lock (SQLite) or some session of this database
    waits for a lock another one holds (PostgreSQL): the frozen worker was frozen mid-write."""
    url = load_config(config).database
    if url.startswith("sqlite"):
        connection = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=0)
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.rollback()
            return False
        except sqlite3.OperationalError:  # "database is locked"
            return True
        finally:
            connection.close()
    query = (
        "SELECT COUNT(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    return bool(rows_once_created(config, query)[0][0])


def test_a_dead_worker_of_another_host_loses_its_feeds_when_its_lease_runs_out(
    tmp_path: Path,
) -> None:
    lease = 3.0
    with serve() as server:
        site = SlowFeeds(server, feeds=1, articles=1, delay=0)
        config = write_config(
            tmp_path,
            f"sqlite:///{tmp_path / 'pipeline.db'}",
            site.feed_configs,
            schedule={"tick": f"{TICK}s", "lease": f"{lease}s"},
        )
        run_once(config)
        polls = len(server.hits("/feed-0.xml"))
        elsewhere = LeaseOwner("another-host", 4242, "1", "1", "feed00")
        set_lease(config, "feed-0", str(elsewhere), lease)
        leased_at = time.monotonic()
        daemon = pipeline_process(config, "run")
        try:
            wait_until(lambda: len(server.hits("/feed-0.xml")) > polls, 2 * lease + 5)
            polled_after = time.monotonic() - leased_at
        finally:
            stopped = stop(daemon)
    assert stopped == 0
    # Not before the lease ran out (another host's pid means nothing here), then at once.
    assert lease - 0.5 <= polled_after <= lease + 2 * TICK + 1.5


def test_sigstop_past_the_lease_then_sigcont_stores_nothing_twice(
    tmp_path: Path, database: str
) -> None:
    lease = 2.0
    with serve() as server:
        site = SlowFeeds(server, feeds=1, articles=16, delay=0.1)
        config = write_config(
            tmp_path,
            database,
            site.feed_configs,
            fetch={"per_host": 1},
            schedule={"lease": f"{lease}s", "tick": f"{TICK}s"},
        )
        frozen_log, other_log = tmp_path / "frozen.log", tmp_path / "other.log"
        frozen = pipeline_process(config, "run", "--once", log=frozen_log)
        try:
            wait_until(lambda: site.pages_served() >= 3, 30)
            frozen.send_signal(signal.SIGSTOP)
            time.sleep(lease + 0.5)  # its lease runs out; a live process: no one takes it early
            other = pipeline_process(config, "run", "--once", log=other_log)
            # Resumed once the other worker holds the feed, or waits for a lock the frozen one
            # holds (frozen inside a write: that write commits first, under its valid lease).
            how: list[str] = []

            def settled() -> bool:
                if held_by(config, other.pid):
                    how.append("taken over")
                elif other.poll() is not None:
                    how.append("other done")
                elif waiting_for_a_lock(config):
                    how.append("frozen mid-write")
                return bool(how)

            wait_until(settled, 30)
            frozen.send_signal(signal.SIGCONT)
            assert other.wait(timeout=30) == 0, other_log.read_text()
            assert frozen.wait(timeout=30) == 0, frozen_log.read_text()
        finally:
            kill(frozen)

    if how == ["taken over"]:
        assert "lost the lease on" in frozen_log.read_text()
    # Frozen mid-write, the frozen worker may keep its (unclaimed) lease and finish the poll
    # itself: either way exactly one poll is recorded and nothing is stored twice.
    assert stored_links(config) == sorted(site.all_links)  # no article twice
    fetches = fetch_rows_by_worker(config, "feed-0")
    assert len(fetches) == 1 and fetches[0][1] == "ok", fetches  # only the new holder's poll
    assert_consistent(config)  # no flag twice either


def test_a_reused_pid_does_not_keep_a_dead_workers_lease(
    tmp_path: Path, database: str, caplog: pytest.LogCaptureFixture
) -> None:
    with serve() as server:
        site = SlowFeeds(server, feeds=1, articles=2, delay=0)
        config = write_config(tmp_path, database, site.feed_configs)
        run_once(config)
        polls = len(server.hits("/feed-0.xml"))
        # An unrelated live process now has the dead worker's pid: another start time.
        with subprocess.Popen(["sleep", "30"]) as unrelated:
            started = processes.start_time(unrelated.pid)
            assert started
            host, namespace = socket.gethostname(), processes.pid_namespace()
            live = LeaseOwner(host, unrelated.pid, started, namespace, "live00")
            dead = LeaseOwner(host, unrelated.pid, str(int(started) - 1), namespace, "dead00")
            try:
                # The live owner's lease holds: the run leaves the feed and says who has it.
                set_lease(config, "feed-0", str(live), 3600)
                worker = Worker(load_config(config))
                asyncio.run(worker.run(once=True))
                assert len(server.hits("/feed-0.xml")) == polls
                assert [(h.feed, h.owner) for h in worker.not_polled] == [("feed-0", str(live))]

                set_lease(config, "feed-0", str(dead), 3600)
                with caplog.at_level(logging.WARNING, logger="pipeline.poll.leases"):
                    run_once(config)
            finally:
                unrelated.kill()
    assert len(server.hits("/feed-0.xml")) == polls + 1
    assert f"taking over 1 feeds from dead worker {host}:{unrelated.pid}" in caplog.text
    assert_consistent(config)
