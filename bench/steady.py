"""Steady state: every feed answers 304 Not Modified. Run by the bench in a process of its own:

``python -m bench.steady CONFIG --rounds 3 [--daemon-seconds 30]`` prints one JSON object.

Round 0 (feeds answer 200 with an ETag) primes the database; each later ``pipeline run
--once`` round (``Worker.run(once=True)``, in this process) then gets 304 from every feed. A
round's wall time and CPU (``time.process_time``: every thread of this process; a 304 needs
no extraction process) are taken around the polling itself, not the start-up that a daemon
pays once. ``--daemon-seconds`` also runs the daemon (``Worker.run(once=False)``) with every
feed due, for at most that long, and counts the polls it recorded: the daemon's round.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from pipeline.core import eventloop
from pipeline.core.config import load_config
from pipeline.poll.scheduler import Worker

_rounds: list[dict[str, float]] = []


def _timed(method: Any) -> Any:
    async def timed(self: Worker, *args: Any) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        result = await method(self, *args)
        polls = len(result) if isinstance(result, list) else 0
        _rounds.append(
            {
                "seconds": time.perf_counter() - wall,
                "cpu_seconds": time.process_time() - cpu,
                "polls": polls,
            }
        )
        return result

    return timed


def _outcomes(database: str) -> dict[str, int]:
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT outcome, count(*) FROM fetch_attempt GROUP BY outcome")
        return {str(outcome): int(count) for outcome, count in rows}


def _all_due(database: str) -> None:
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE feed SET next_poll_at = '2000-01-01 00:00:00.000000'")


async def _daemon_round(worker: Worker, database: str, feeds: int, limit: float) -> dict[str, Any]:
    before = sum(_outcomes(database).values())
    _all_due(database)
    started = time.perf_counter()
    cpu = time.process_time()
    task = asyncio.create_task(worker.run(once=False))
    polled = 0
    while time.perf_counter() - started < limit and not task.done():
        await asyncio.sleep(0.1)
        polled = sum(_outcomes(database).values()) - before
        if polled >= feeds:
            break
    seconds = time.perf_counter() - started
    worker.stop.set()
    await task
    return {
        "feeds": feeds,
        "polled": polled,
        "seconds": seconds,
        "cpu_seconds": time.process_time() - cpu,
        "complete": polled >= feeds,
        "round_seconds_estimate": seconds * feeds / max(polled, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("config", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--daemon-seconds", type=float, default=0)
    options = parser.parse_args()
    config = load_config(options.config)
    database = config.database.removeprefix("sqlite:///")
    Worker._poll_all_once = _timed(Worker._poll_all_once)  # type: ignore[method-assign]
    for _round in range(options.rounds + 1):
        eventloop.run(Worker(config).run(once=True))
    result: dict[str, Any] = {"rounds": _rounds, "outcomes": _outcomes(database)}
    if options.daemon_seconds > 0:
        worker = Worker(config)
        result["daemon"] = eventloop.run(
            _daemon_round(worker, database, len(config.feeds), options.daemon_seconds)
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
