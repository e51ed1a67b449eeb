"""``python -m bench`` (= ``make bench``): the pipeline measured against its limit and a peer.

Options: ``--articles N`` (default 2000 = 50 feeds x 40 entries), ``--latency S`` (0.15),
``--repeat R`` (end-to-end runs, median), ``--memory`` (also ingest 20,000 articles for the
memory figure: several minutes), ``--scale`` (also a 304 round of 20,000 feeds, and the
machines 180,000 feeds need: bench.scale), ``--dedup`` (also bench.dedup's 1k/10k/100k
scale run, for ``dedup_ratio_100k_1k``: long), ``--json`` (one JSON object as the last line).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import e2e, limit, peer, scale, watchlist_scale
from bench.harness import PYTHON, ROOT, Server, server, write_config
from bench.server import check_loopback
from bench.workload import HOSTS, STEADY_FEEDS, Workload
from pipeline.core.config import FetchSettings

MEMORY_ARTICLES = 20_000
LIMIT_SAMPLE = 3 * 113  # pages extracted for the limit (each template about three times)


def main() -> None:
    options = _options()
    check_loopback()
    started = time.perf_counter()
    served = max(options.articles, MEMORY_ARTICLES if options.memory else 0)
    results: dict[str, Any] = {"articles": options.articles, "latency": options.latency}
    with (
        server(served, options.latency, options.seed) as site,
        tempfile.TemporaryDirectory(prefix="bench-") as scratch,
    ):
        workload = Workload.on_corpus(options.articles, port=site.port, seed=options.seed)
        _say(f"workload: {workload.feeds} feeds x 40 entries, 50 loopback sites, port {site.port}")
        results["end_to_end"] = _end_to_end(site, workload, Path(scratch), options.repeat)
        results["limit"] = _limit(workload)
        results["peer"] = _peer(workload, options.peer_feeds)
        results["steady"] = _steady(
            site, workload, Path(scratch), options.steady_feeds, options.latency
        )
        results["watchlist"] = _watchlist()
        if options.scale:
            _say(f"scale: a 304 round of {options.scale_feeds} feeds (long)")
            results["scale"] = scale.run(
                site, workload, Path(scratch), options.latency, options.scale_feeds
            )
        if options.memory:
            big = Workload.on_corpus(MEMORY_ARTICLES, port=site.port, seed=options.seed)
            _say(f"memory: {MEMORY_ARTICLES} articles (long)")
            results["memory"] = e2e.run_once(site, big, Path(scratch), "memory")
    results["dedup"] = _dedup() if options.dedup else None
    results["bench_seconds"] = time.perf_counter() - started
    summary = _summary(results)
    from bench.report import table

    print(table(summary, results))
    if options.json:
        print(json.dumps({**summary, "raw": _without_samples(results)}))


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.15)
    parser.add_argument("--repeat", type=int, default=2, help="end-to-end runs (median)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--peer-feeds", type=int, default=1, help="feeds the peer loop reads")
    parser.add_argument("--steady-feeds", type=int, default=STEADY_FEEDS)
    parser.add_argument("--memory", action="store_true", help="also ingest 20,000 articles")
    parser.add_argument("--dedup", action="store_true", help="also run bench.dedup's scale run")
    parser.add_argument("--scale", action="store_true", help="also a 304 round of 20,000 feeds")
    parser.add_argument("--scale-feeds", type=int, default=scale.SCALE_FEEDS)
    parser.add_argument("--json", action="store_true", help="print a JSON object last")
    return parser.parse_args()


def _say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def _end_to_end(site: Server, workload: Workload, scratch: Path, repeat: int) -> dict[str, Any]:
    runs = []
    for number in range(repeat):
        _say(f"end to end: pipeline run --once, run {number + 1} of {repeat}")
        runs.append(e2e.run_once(site, workload, scratch, f"e2e-{number}"))
        _say(f"  {runs[-1]['articles_per_second']:.1f} articles/s")
    articles = workload.articles
    return {
        "articles_per_second": statistics.median(r["articles_per_second"] for r in runs),
        "seconds": statistics.median(r["seconds"] for r in runs),
        # CPU, not wall time: the figures that hold on a shared machine
        "cpu_ms_per_article": statistics.median(1000 * r["cpu_seconds"] / articles for r in runs),
        "main_cpu_ms_per_article": statistics.median(
            1000 * r["main_cpu_seconds"] / articles for r in runs
        ),
        "peak_rss_mb": max(r["peak_main_rss_mb"] for r in runs),
        "peak_tree_rss_mb": max(r["peak_tree_rss_mb"] for r in runs),
        "peak_tree_pss_mb": max(r["peak_tree_pss_mb"] for r in runs),
        "expected": e2e.expected_counts(workload),
        "runs": runs,
    }


def _limit(workload: Workload) -> dict[str, Any]:
    fetched = limit.fetched_pages(workload)
    sample = fetched[:LIMIT_SAMPLE]
    _say(f"limit: extraction alone, {len(sample)} pages x 2, {limit.cores()} processes")
    limits = [limit.measure(workload, sample) for _ in range(2)]
    rates = [measured.pages_per_second for measured in limits]
    pages_per_second = statistics.median(rates)
    plain = limit.measure(workload, sample, how="trafilatura").pages_per_second
    seconds = len(fetched) / pages_per_second  # the whole workload's pages
    cpu_ms_per_page = statistics.median(measured.cpu_ms_per_page for measured in limits)
    return {
        "cpu_ms_per_page": cpu_ms_per_page,
        "cpu_ms_per_article": cpu_ms_per_page * len(fetched) / workload.articles,
        "pages_per_second": pages_per_second,
        "trafilatura_plain_pages_per_second": plain,
        "fetched_pages": len(fetched),
        "sample": len(sample),
        "processes": limit.cores(),
        "seconds": seconds,
        "articles_per_second": workload.articles / seconds,
        "rates": rates,
    }


def _peer(workload: Workload, feeds: int) -> dict[str, Any]:
    urls = [workload.feed_url(f) for f in range(feeds)]
    _say(f"peer: sequential feedparser + httpx + trafilatura loop over {feeds} feed(s)")
    articles, seconds = peer.sequential_loop(urls)
    _say("peer: the same loop with the pipeline's extraction")
    same_articles, same_seconds = peer.sequential_loop(urls, how="pipeline")
    return {
        "same_extractor_articles_per_second": same_articles / same_seconds,
        "articles": articles,
        "seconds": seconds,
        "articles_per_second": articles / seconds,
        "extrapolated_seconds": workload.articles * seconds / max(articles, 1),
        "newspaper4k": None,  # not installed: see the README
    }


def _steady(
    site: Server, workload: Workload, scratch: Path, feeds: int, latency: float
) -> dict[str, Any]:
    folder = scratch / "steady"
    folder.mkdir()
    urls = [workload.steady_url(f) for f in range(feeds)]
    config = write_config(folder / "feeds.yaml", folder / "pipeline.db", urls)
    _say(f"steady state: {feeds} feeds answering 304, 3 rounds (after a priming round)")
    site.stats(reset=True)
    command = [PYTHON, "-m", "bench.steady", str(config), "--rounds", "3"]
    command += ["--daemon-seconds", "20"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bench: steady state failed:\n{done.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    rounds = figures["rounds"][1:]  # round 0 got 200s
    figures["round_seconds"] = statistics.median(r["seconds"] for r in rounds)
    figures["cpu_ms_per_poll"] = statistics.median(
        1000 * r["cpu_seconds"] / max(r["polls"], 1) for r in rounds
    )
    figures["feeds"] = feeds
    figures["requests"] = site.stats()
    in_flight = min(FetchSettings().concurrency, FetchSettings().per_host * len(HOSTS))
    figures["in_flight"] = in_flight
    figures["floor_seconds"] = scale.floor_seconds(
        feeds, latency, in_flight, figures["cpu_ms_per_poll"]
    )
    return figures


def _watchlist() -> dict[str, Any]:
    _say("watchlist scale: shipped watchlist vs 20,000 generated names")
    result = watchlist_scale.measure()
    return {
        "small_ms": result.small_ms,
        "large_ms": result.large_ms,
        "ratio": result.ratio,
        "large_entities": result.large_entities,
        "compile_seconds": result.compile_seconds,
        "articles": result.articles,
    }


def _dedup() -> dict[str, Any]:
    _say("dedup scale: per-article dedup time with 1k, 10k, 100k stored (long)")
    from bench.dedup import run_dedup_bench  # the dedup issue's benchmark

    return run_dedup_bench()


def _summary(results: dict[str, Any]) -> dict[str, Any]:
    pipeline_rate = results["end_to_end"]["articles_per_second"]
    memory = results.get("memory")
    steady, measured_scale = results["steady"], results.get("scale")
    return {
        **_cpu_summary(results),
        "speedup_vs_sequential_same_extractor": pipeline_rate
        / results["peer"]["same_extractor_articles_per_second"],
        "round_304_floor_seconds": steady["floor_seconds"],
        "round_304_ratio_to_floor": steady["round_seconds"] / steady["floor_seconds"],
        "matching_share": results["watchlist"]["large_ms"] / results["limit"]["cpu_ms_per_page"],
        "scale_round_seconds": measured_scale["round_seconds"] if measured_scale else None,
        "scale_round_floor_seconds": measured_scale["floor_seconds"] if measured_scale else None,
        "scale_ratio_to_floor": measured_scale["round_seconds"] / measured_scale["floor_seconds"]
        if measured_scale
        else None,
        "scale_peak_pss_mb": measured_scale["peak_tree_pss_mb"] if measured_scale else None,
        "articles_per_second": pipeline_rate,
        "limit_articles_per_second": results["limit"]["articles_per_second"],
        "ratio_to_limit": pipeline_rate / results["limit"]["articles_per_second"],
        "sequential_articles_per_second": results["peer"]["articles_per_second"],
        "speedup_vs_sequential": pipeline_rate / results["peer"]["articles_per_second"],
        "round_304_seconds": results["steady"]["round_seconds"],
        "cpu_ms_per_304": results["steady"]["cpu_ms_per_poll"],
        "daemon_round_304_seconds": results["steady"]
        .get("daemon", {})
        .get("round_seconds_estimate"),
        "watchlist_ratio": results["watchlist"]["ratio"],
        "peak_rss_mb": results["end_to_end"]["peak_rss_mb"],
        "peak_tree_rss_mb": results["end_to_end"]["peak_tree_rss_mb"],
        "peak_tree_pss_mb": results["end_to_end"]["peak_tree_pss_mb"],
        "peak_rss_mb_20k": memory["peak_main_rss_mb"] if memory else None,
        "peak_tree_rss_mb_20k": memory["peak_tree_rss_mb"] if memory else None,
        "peak_tree_pss_mb_20k": memory["peak_tree_pss_mb"] if memory else None,
        "main_growth_kb_per_article_20k": e2e.main_growth_kb_per_article(memory, MEMORY_ARTICLES)
        if memory
        else None,
        "dedup_ratio_100k_1k": (results["dedup"] or {}).get("dedup_ratio_100k_1k"),
    }


def _cpu_summary(results: dict[str, Any]) -> dict[str, Any]:
    """The CPU figures (process CPU, not wall time: they hold on a busy machine): per article
    in the whole process tree and in the main process, the extraction limit's, and their ratio
    (what ratio_to_limit would be on cores of its own)."""
    end_to_end, limits = results["end_to_end"], results["limit"]
    measured_scale = results.get("scale")
    projection = None
    if measured_scale:
        projection = scale.project(
            measured_scale["cpu_ms_per_poll"],
            measured_scale["cpu_ms_per_200_poll"],
            end_to_end["cpu_ms_per_article"],
        )
        results["scale"]["projection"] = projection
    return {
        "cpu_ms_per_article": end_to_end["cpu_ms_per_article"],
        "main_cpu_ms_per_article": end_to_end["main_cpu_ms_per_article"],
        "limit_cpu_ms_per_article": limits["cpu_ms_per_article"],
        "cpu_ratio_to_limit": limits["cpu_ms_per_article"] / end_to_end["cpu_ms_per_article"],
        "machines_180k_feeds_hourly": projection["machines"] if projection else None,
    }


def _without_samples(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_samples(v) for k, v in value.items() if k != "rss_samples"}
    if isinstance(value, list):
        return [_without_samples(item) for item in value]
    return value


if __name__ == "__main__":
    main()
