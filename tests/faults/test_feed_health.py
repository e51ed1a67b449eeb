"""Feed health across polls: exponential backoff, `failing` after N failures (and shown so in
`feeds list`), recovery to the normal interval, 410 -> `gone` and never polled again, and a
daemon that does not poll a feed before its backoff or Retry-After is over."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from typer.testing import CliRunner

from pipeline.cli.app import app
from pipeline.core.config import load_config
from pipeline.poll.scheduler import Worker
from tests.conftest import run_once
from tests.faults.hostile import HostileServer, respond, serve
from tests.faults.support import (
    RSS_TYPE,
    add_healthy_feed,
    assert_consistent,
    attempts,
    feed_state,
    rss_document,
    write_config,
)

INTERVAL = timedelta(minutes=10)


def config_for(
    tmp_path: Path, server: HostileServer, flaky_host: str = "127.0.0.1", **schedule: object
) -> Path:
    flaky_url = server.url("/flaky.xml").replace("127.0.0.1", flaky_host)
    feeds = [
        add_healthy_feed(server),
        {"name": "flaky", "url": flaky_url},
        {"name": "gone", "url": server.url("/gone.xml")},
    ]
    settings = {"interval": "10m", "failing_after": 3, "max_backoff": "35m"} | schedule
    return write_config(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", feeds, schedule=settings)


def backoff_of(config: Path, name: str) -> timedelta:
    """From the start of the last poll to the next one, to the second (the backoff counts
    from the end of the poll, some milliseconds later)."""
    state = feed_state(config, name)
    delay: timedelta = state["next_poll_at"] - state["last_attempt_at"]
    return timedelta(seconds=round(delay.total_seconds()))


def test_failures_back_off_turn_failing_and_recover(tmp_path: Path) -> None:
    with serve() as server:
        server.route("/flaky.xml", respond(b"oops", status=500))
        server.route("/gone.xml", respond(b"gone", status=410))
        config = config_for(tmp_path, server)

        delays, statuses = [], []
        for _ in range(4):
            run_once(config)
            delays.append(backoff_of(config, "flaky"))
            statuses.append(feed_state(config, "flaky")["status"])
        listing = CliRunner().invoke(
            app, ["--config", str(config), "feeds", "list"], env={"COLUMNS": "200"}
        )

        server.route("/flaky.xml", respond(rss_document([]), content_type=RSS_TYPE))
        run_once(config)
        recovered = feed_state(config, "flaky")

    # 10, 20, then 40 capped at 35 minutes (no jitter in these configs)
    assert delays == [INTERVAL, 2 * INTERVAL, timedelta(minutes=35), timedelta(minutes=35)]
    assert statuses == ["ok", "ok", "failing", "failing"]
    flaky_line = next(line for line in listing.stdout.splitlines() if "flaky" in line)
    assert "failing (4x)" in flaky_line and "HTTP 500" in flaky_line
    assert (recovered["status"], recovered["consecutive_failures"]) == ("ok", 0)
    assert recovered["last_success_at"] == recovered["last_attempt_at"]
    assert backoff_of(config, "flaky") == INTERVAL  # back to its interval
    assert_consistent(config)


def test_gone_feed_is_never_polled_again(tmp_path: Path) -> None:
    with serve() as server:
        server.route("/flaky.xml", respond(rss_document([]), content_type=RSS_TYPE))
        server.route("/gone.xml", respond(b"gone", status=410))
        config = config_for(tmp_path, server)

        for _ in range(3):
            run_once(config)
        listing = CliRunner().invoke(app, ["--config", str(config), "feeds", "list"])

        assert len(server.hits("/gone.xml")) == 1
        assert len(server.hits("/flaky.xml")) == 3
    state = feed_state(config, "gone")
    assert state["status"] == "gone"
    assert "HTTP 410 Gone" in state["last_error"]
    assert len(attempts(config, "gone")) == 1
    gone_row = next(line.split() for line in listing.stdout.splitlines() if line.startswith("gone"))
    assert gone_row[:2] == ["gone", "gone"]  # name, status
    assert_consistent(config)


def run_daemon_for(config: Path, seconds: float) -> None:
    """The real daemon (APScheduler ticks), in this process, stopped after ``seconds``."""

    async def main() -> None:
        worker = Worker(load_config(config))
        task = asyncio.create_task(worker.run(once=False))
        await asyncio.sleep(seconds)
        worker.stop.set()
        await task

    asyncio.run(main())


def test_daemon_waits_for_retry_after_and_backoff(tmp_path: Path) -> None:
    with serve() as server:
        server.route("/flaky.xml", respond(b"busy", status=503, headers={"Retry-After": "3600"}))
        server.route("/gone.xml", respond(b"no", status=500))
        # A 503 slows its whole host (pipeline.fetch.politeness): the flaky feed is on another host
        # name of the same server, so that the healthy feed shows the daemon going on.
        config = config_for(
            tmp_path,
            server,
            flaky_host="localhost",
            interval="1s",
            min_interval="1s",
            tick="0.2s",
            max_backoff="1h",
        )

        run_daemon_for(config, 2.5)

        # The healthy feed, on a 1 s interval, is polled again and again meanwhile.
        assert len(server.hits("/healthy/feed.xml")) >= 2
        assert len(server.hits("/flaky.xml")) == 1  # Retry-After: 3600
        assert len(server.hits("/gone.xml")) <= 2  # backoff 1 s, then 2 s, then 4 s
    assert feed_state(config, "flaky")["next_poll_at"] >= (
        feed_state(config, "flaky")["last_attempt_at"] + timedelta(seconds=3600)
    )
    assert_consistent(config)
