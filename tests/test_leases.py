"""Feed leases in the database (SQLite and PostgreSQL): fencing tokens, takeovers, renewals, and
what `run --once` and `feeds list` say about leases other workers hold."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from pipeline.cli.app import app
from pipeline.core.config import DedupSettings
from pipeline.core.errors import LeaseLostError
from pipeline.core.records import Lease
from pipeline.poll.leases import LeaseOwner, not_polled_line
from storage.db import Database
from storage.repository import LeaseHolder, PollRecord, Repository
from tests.db_engines import at_revision
from tests.faults.test_crash_recovery import set_lease
from tests.site import Page, Site, rss
from tests.test_storage import NOW, draft
from tests.test_storage import repo as repo

LEASE = timedelta(seconds=60)


def record(feed_id: int, worker: str, generation: int) -> PollRecord:
    return PollRecord(
        feed_id=feed_id,
        worker=worker,
        started_at=NOW,
        duration_seconds=0.1,
        outcome="ok",
        next_poll_at=NOW + timedelta(minutes=15),
        status="ok",
        consecutive_failures=0,
        lease_generation=generation,
    )


def test_a_takeover_fences_out_the_old_holders_writes(repo: Repository) -> None:
    (old,) = repo.claim_feeds(
        now=NOW, owner="old", lease_until=NOW + LEASE, due_only=False, limit=1
    )
    later = NOW + 2 * LEASE  # the old holder was frozen past its lease
    (new,) = repo.claim_feeds(
        now=later, owner="new", lease_until=later + LEASE, due_only=False, limit=1
    )
    assert new.lease_generation == old.lease_generation + 1

    with pytest.raises(LeaseLostError):
        repo.store_article(
            draft("https://a.example/1", "one"),
            NOW,
            dedup=DedupSettings(),
            lease=Lease(old.id, "old", old.lease_generation),
        )
    with pytest.raises(LeaseLostError):
        repo.store_revision(
            1,
            draft("https://a.example/1", "two"),
            NOW,
            lease=Lease(old.id, "old", old.lease_generation),
        )
    assert repo.record_polls_fenced([record(old.id, "old", old.lease_generation)]) == ([], {old.id})
    assert db_rows_of(repo, "SELECT COUNT(*) FROM article") == 0
    assert db_rows_of(repo, "SELECT COUNT(*) FROM fetch_attempt") == 0

    stored = repo.store_article(
        draft("https://a.example/1", "one"),
        later,
        dedup=DedupSettings(),
        lease=Lease(new.id, "new", new.lease_generation),
    )
    assert stored.status == "stored" and stored.new_flags == 1
    assert repo.record_polls_fenced([record(new.id, "new", new.lease_generation)]) == ([], set())
    assert db_rows_of(repo, "SELECT COUNT(*), MIN(worker) FROM fetch_attempt") == (1, "new")
    assert db_rows_of(repo, "SELECT lease_owner FROM feed") is None  # released with its record


def test_renewal_reports_lost_feeds_and_a_lapsed_own_lease_keeps_its_token(
    repo: Repository,
) -> None:
    (feed,) = repo.claim_feeds(
        now=NOW, owner="w1", lease_until=NOW + LEASE, due_only=False, limit=1
    )
    assert repo.renew_leases([feed.id], "w1", NOW + 2 * LEASE) == set()
    later = NOW + 3 * LEASE  # lapsed, and no one else claimed it meanwhile
    (again,) = repo.claim_feeds(
        now=later, owner="w1", lease_until=later + LEASE, due_only=False, limit=1
    )
    assert again.lease_generation == feed.lease_generation  # its poll in flight stays valid
    taken_at = later + 2 * LEASE
    repo.claim_feeds(
        now=taken_at, owner="w2", lease_until=taken_at + LEASE, due_only=False, limit=1
    )
    assert repo.renew_leases([feed.id], "w1", taken_at + LEASE) == {feed.id}


def test_a_dead_owners_leases_are_freed_and_counted(repo: Repository) -> None:
    repo.claim_feeds(now=NOW, owner="dead", lease_until=NOW + LEASE, due_only=False, limit=1)
    assert [holder.owner for holder in repo.lease_holders(NOW)] == ["dead"]
    assert repo.free_leases_of(["dead", "nobody"]) == {"dead": 1}
    assert repo.lease_holders(NOW) == []
    (feed,) = repo.claim_feeds(
        now=NOW, owner="next", lease_until=NOW + LEASE, due_only=False, limit=1
    )
    assert feed.lease_generation == 2


def test_owner_names_round_trip_and_older_names_are_left_to_expire() -> None:
    me = LeaseOwner.current()
    assert LeaseOwner.parse(str(me)) == me and not me.is_dead_neighbour(me)
    assert LeaseOwner.parse("host:123:abcdef") is None  # an older release's name
    gone = replace(me, pid=2**22 + 17, token="gone00")  # above any pid in use here
    assert gone.is_dead_neighbour(me)
    assert not replace(gone, host="elsewhere").is_dead_neighbour(me)  # not ours to judge


def test_run_once_says_which_feeds_other_workers_hold_and_feeds_list_shows_the_holder(
    site: Site, make_config: Callable[..., Path]
) -> None:
    site.add("/feed.xml", Page(rss([]), content_type="application/rss+xml"))
    site.add("/other.xml", Page(rss([]), content_type="application/rss+xml"))
    config = make_config(
        [
            {"name": "Held", "url": site.url("/feed.xml")},
            {"name": "Free", "url": site.url("/other.xml")},
        ]
    )
    runner = CliRunner()
    assert runner.invoke(app, ["--config", str(config), "run", "--once"]).exit_code == 0
    holder = replace(LeaseOwner.current(), pid=1, token="live00")  # pid 1 runs: alive, kept
    holder = replace(holder, started="")  # no start time to compare: only "pid 1 exists"
    set_lease(config, "Held", str(holder), 3600)

    once = runner.invoke(app, ["--config", str(config), "run", "--once"])
    listed = runner.invoke(app, ["--config", str(config), "feeds", "list", "--format", "json"])
    table = runner.invoke(app, ["--config", str(config), "feeds", "list"])

    assert once.exit_code == 0
    line = f"run --once: 1 feed not polled: 'Held' leased by {holder.name} until "
    assert line in once.stderr and once.stderr.rstrip().endswith(" UTC")
    assert len(site.hits("/feed.xml")) == 1 and len(site.hits("/other.xml")) == 2
    owners = {feed["name"]: feed["lease_owner"] for feed in _json(listed.stdout)}
    assert owners == {"Held": str(holder), "Free": None}
    assert f"polled by {holder.name}" in table.stdout


def test_the_not_polled_line_names_each_holder_once_with_its_feeds() -> None:
    soon, later = datetime(2026, 12, 3, 7, 0, tzinfo=UTC), datetime(2026, 12, 3, 7, 5, tzinfo=UTC)
    a = str(LeaseOwner("host-a", 11, "5", "1", "aaaaaa"))
    holders = [
        LeaseHolder(1, "Dawn", a, later),
        LeaseHolder(2, "Geo", "old-style-name", soon),
        LeaseHolder(3, "Jang", a, later),
    ]
    assert not_polled_line(holders) == (
        "3 feeds not polled: 'Geo' leased by old-style-name until 2026-12-03 07:00:00 UTC; "
        "'Dawn', 'Jang' leased by host-a:11 until 2026-12-03 07:05:00 UTC"
    )
    assert not_polled_line([]) is None


def _json(document: str) -> list[dict[str, Any]]:
    value = json.loads(document)
    assert isinstance(value, list)
    return value


def db_rows_of(repo: Repository, query: str) -> Any:
    """The first row of `query` (its one value, if one column); None without rows."""
    with repo.db.engine.connect() as connection:
        row = connection.execute(text(query)).first()
    if row is None:
        return None
    return row[0] if len(row) == 1 else tuple(row)


def test_a_0002_database_with_a_leased_feed_is_upgraded_in_place(database: str) -> None:
    db = Database(database)
    try:
        with at_revision(db, "0002") as connection:
            connection.execute(
                text(
                    "INSERT INTO feed (name, url, tags, kind, status, interval_seconds,"
                    " interval_pinned, next_poll_at, consecutive_failures, lease_owner,"
                    " lease_expires_at, created_at) VALUES ('Dawn', 'https://dawn.example/rss',"
                    " '[]', 'feed', 'ok', 900, false, :now, 0, 'old-host:1:abcdef', :now, :now)"
                ),
                {"now": NOW.replace(tzinfo=None)},
            )
        db.upgrade()
        with db.engine.connect() as connection:
            row = connection.execute(text("SELECT lease_owner, lease_generation FROM feed")).one()
        assert tuple(row) == ("old-host:1:abcdef", 0)  # an older release's lease: it runs out
        assert LeaseOwner.parse(row[0]) is None
    finally:
        db.dispose()
