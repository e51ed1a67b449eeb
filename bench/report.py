"""The bench's table: each figure beside its goal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# (label, summary key, format, goal text, goal test)
_ROWS: list[tuple[str, str, str, str, Callable[[float], bool] | None]] = [
    ("pipeline run --once, articles/s", "articles_per_second", "{:.1f}", "", None),
    ("limit: extraction alone, articles/s", "limit_articles_per_second", "{:.1f}", "", None),
    ("ratio to the limit", "ratio_to_limit", "{:.2f}", ">= 0.80", lambda v: v >= 0.80),
    ("sequential loop, articles/s", "sequential_articles_per_second", "{:.1f}", "", None),
    ("speedup vs sequential loop", "speedup_vs_sequential", "{:.1f}x", ">= 10x", lambda v: v >= 10),
    ("304 round, --once (s)", "round_304_seconds", "{:.1f}", "<= 10", lambda v: v <= 10),
    ("304 round, daemon (s)", "daemon_round_304_seconds", "{:.1f}", "<= 10", lambda v: v <= 10),
    ("CPU per 304 poll (ms)", "cpu_ms_per_304", "{:.2f}", "<= 2", lambda v: v <= 2),
    ("watchlist 20,000 / 5 names", "watchlist_ratio", "{:.2f}", "<= 2", lambda v: v <= 2),
    ("peak RSS, main process (MB)", "peak_rss_mb", "{:.0f}", "", None),
    ("peak RSS, all processes summed (MB)", "peak_tree_rss_mb", "{:.0f}", "", None),
    ("peak PSS, all processes (MB)", "peak_tree_pss_mb", "{:.0f}", "<= 400", lambda v: v <= 400),
    ("peak RSS 20k articles, summed (MB)", "peak_tree_rss_mb_20k", "{:.0f}", "", None),
    ("peak PSS 20k articles, all (MB)", "peak_tree_pss_mb_20k", "{:.0f}", "<= 400",
     lambda v: v <= 400),
    ("dedup time 100k / 1k stored", "dedup_ratio_100k_1k", "{:.2f}", "", None),
]  # fmt: skip


def table(summary: dict[str, Any], results: dict[str, Any]) -> str:
    lines = [
        f"sanctions-watch bench: {results['articles']} articles, "
        f"{results['latency'] * 1000:.0f} ms latency, "
        f"{results['limit']['processes']} cores, {results['bench_seconds']:.0f} s",
        "",
        f"| {'figure':<36} | {'value':>8} | {'goal':>7} | {'met':<4} |",
        f"|{'-' * 38}|{'-' * 10}|{'-' * 9}|{'-' * 6}|",
    ]
    for label, key, form, goal, test in _ROWS:
        value = summary.get(key)
        shown = form.format(value) if isinstance(value, int | float) else "n/a"
        met = "" if test is None or value is None else ("yes" if test(value) else "NO")
        lines.append(f"| {label:<36} | {shown:>8} | {goal:>7} | {met:<4} |")
    return "\n".join(lines)
