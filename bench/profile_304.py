"""The profile of a 304 round: ``python -m bench.profile_304 [--feeds 2000] [--top 30]``.

Starts the benchmark server, primes a database with one round of 200s, then runs one more
``pipeline run --once`` round (every feed answers 304) under cProfile and prints the CPU per
poll, the share of the time spent inside httpx/httpcore/h11 and anyio, and the functions with
the most time of their own. This is the profile that guided the 304 path's work (issue 19).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import tempfile
import time
from pathlib import Path

from bench.harness import server, write_config
from bench.workload import STEADY_FEEDS, Workload
from pipeline.core import eventloop
from pipeline.core.config import Config, load_config
from pipeline.poll.scheduler import Worker

# Where the time of an HTTP client goes: the library's own share of a 304 (issue 19 asks).
HTTP_PACKAGES = ("/httpx/", "/httpcore/", "/h11/", "/anyio/", "/sniffio/")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_304")
    parser.add_argument("--feeds", type=int, default=STEADY_FEEDS)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--latency", type=float, default=0.15)
    parser.add_argument("--dump", type=Path, help="also write the raw profile (pstats) here")
    parser.add_argument("--plain", type=int, default=0, help="only N unprofiled rounds")
    options = parser.parse_args()
    with server(40, options.latency, 7) as site, tempfile.TemporaryDirectory() as scratch:
        workload = Workload.on_corpus(40, port=site.port, seed=7)
        urls = [workload.steady_url(f) for f in range(options.feeds)]
        folder = Path(scratch)
        config = load_config(write_config(folder / "feeds.yaml", folder / "p.db", urls))
        eventloop.run(Worker(config).run(once=True))  # 200s: the ETags are stored
        if options.plain:
            rounds = [_unprofiled_round(config) for _ in range(options.plain)]
            print(" ".join(f"{1000 * cpu:.2f}" for cpu in rounds), "ms CPU per poll, unprofiled")
            return
        profile = cProfile.Profile(time.process_time)  # CPU, not wall: the machine is shared
        cpu = time.process_time()
        profile.enable()
        records = eventloop.run(Worker(config).run(once=True))
        profile.disable()
        cpu = time.process_time() - cpu
        plain = _unprofiled_round(config)
    print(f"unprofiled round: {1000 * plain:.2f} ms CPU per poll (polling only, as bench.steady)")
    if options.dump:
        profile.dump_stats(options.dump)
    print(report(profile, cpu, len(records), options.top))


def _unprofiled_round(config: Config) -> float:
    """CPU seconds per poll of one more round, taken as bench.steady takes them."""
    from bench import steady

    Worker._poll_all_once = steady._timed(Worker._poll_all_once)  # type: ignore[method-assign]
    eventloop.run(Worker(config).run(once=True))
    figures = steady._rounds[-1]
    return figures["cpu_seconds"] / max(figures["polls"], 1)


def report(profile: cProfile.Profile, cpu: float, polls: int, top: int) -> str:
    stats = pstats.Stats(profile)
    total = sum(row[2] for row in stats.stats.values())  # type: ignore[attr-defined]
    http = sum(
        row[2]
        for (path, _line, _name), row in stats.stats.items()  # type: ignore[attr-defined]
        if any(package in path for package in HTTP_PACKAGES)
    )
    out = io.StringIO()
    out.write(f"{polls} polls, {1000 * cpu / max(polls, 1):.2f} ms CPU per poll (profiled)\n")
    out.write(f"httpx + httpcore + h11 + anyio own time: {100 * http / max(total, 1e-9):.0f}%\n")
    stats.stream = out  # type: ignore[attr-defined]
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


if __name__ == "__main__":
    main()
