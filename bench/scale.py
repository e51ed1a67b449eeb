"""Scale: one 304 round of 20,000 feeds on the 50 stand-in hosts (``python -m bench --scale``).

The round runs ``bench.steady`` (a priming round of 200s, then one ``pipeline run --once``
round of 304s) in a measured process, with enough requests in flight that latency is not the
limit, and is reported against its floor, max(latency x feeds / in flight, CPU per poll x
feeds / cores), with the peak PSS of the process tree. One ``pipeline run`` polls on one event
loop (its database writes in threads beside it), so against the cores' floor a round of one
process shows what a second polling process (a second worker) would gain. ``project`` turns the
measured CPU into the machines a large deployment needs.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from bench.harness import PYTHON, Server, run_measured, write_config
from bench.limit import cores
from bench.workload import HOSTS, Workload

SCALE_FEEDS = 20_000
PER_HOST = 8  # x 50 hosts = 400 requests in flight: 0.15 s x 20,000 / 400 = 7.5 s of latency

# The deployment projected: Media Cloud's order of feeds, each polled hourly; 5% of polls
# bring one new item (the rest answer 304), on machines like this one.
PROJECTED_FEEDS = 180_000
NEW_ITEM_SHARE = 0.05
CORES_PER_MACHINE = 2
UTILISATION = 0.7  # busy share of a core we plan for (headroom for bursts and restarts)


def floor_seconds(feeds: int, latency: float, in_flight: int, cpu_ms_per_poll: float) -> float:
    """The round's floor: waiting for answers, or its CPU spread over every core."""
    return max(latency * feeds / in_flight, cpu_ms_per_poll / 1000 * feeds / cores())


def run(
    site: Server, workload: Workload, scratch: Path, latency: float, feeds: int
) -> dict[str, Any]:
    folder = scratch / "scale"
    folder.mkdir()
    in_flight = PER_HOST * len(HOSTS)
    urls = [workload.steady_url(f) for f in range(feeds)]
    config = write_config(
        folder / "feeds.yaml",
        folder / "pipeline.db",
        urls,
        concurrency=in_flight,
        per_host=PER_HOST,
    )
    measured = run_measured([PYTHON, "-m", "bench.steady", str(config), "--rounds", "1"])
    if measured.returncode != 0:
        raise SystemExit(f"bench: scale round failed:\n{measured.stderr[-3000:]}")
    rounds = json.loads(measured.stdout.strip().splitlines()[-1])["rounds"]
    priming, round_304 = rounds[0], rounds[-1]
    cpu_ms = 1000 * round_304["cpu_seconds"] / max(round_304["polls"], 1)
    return {
        "feeds": feeds,
        "in_flight": in_flight,
        "round_seconds": round_304["seconds"],
        "cpu_ms_per_poll": cpu_ms,
        "cpu_ms_per_200_poll": 1000 * priming["cpu_seconds"] / max(priming["polls"], 1),
        "floor_seconds": floor_seconds(feeds, latency, in_flight, cpu_ms),
        "latency_floor_seconds": latency * feeds / in_flight,
        "peak_tree_pss_mb": measured.peak_tree_pss_mb,
        "peak_main_rss_mb": measured.peak_main_rss_mb,
        "rounds": rounds,
    }


def project(
    cpu_ms_per_304: float, cpu_ms_per_200_poll: float, cpu_ms_per_article: float
) -> dict[str, Any]:
    """Cores and machines for PROJECTED_FEEDS polled hourly, NEW_ITEM_SHARE of them with one
    new article (its page fetched, extracted, matched and stored)."""
    changed = PROJECTED_FEEDS * NEW_ITEM_SHARE
    cpu_seconds = (
        (PROJECTED_FEEDS - changed) * cpu_ms_per_304
        + changed * (cpu_ms_per_200_poll + cpu_ms_per_article)
    ) / 1000
    cores = cpu_seconds / 3600 / UTILISATION
    return {
        "feeds": PROJECTED_FEEDS,
        "new_item_share": NEW_ITEM_SHARE,
        "cpu_seconds_per_hour": cpu_seconds,
        "cores": cores,
        "machines": max(1, math.ceil(cores / CORES_PER_MACHINE)),
        "cores_per_machine": CORES_PER_MACHINE,
        "utilisation": UTILISATION,
    }
