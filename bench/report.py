"""The bench's table: each figure beside its goal and, where it has one, its floor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Goal = Callable[[float], bool] | None

# (label, summary key, format, goal text, goal test, the summary key of its floor)
_ROWS: list[tuple[str, str, str, str, Goal, str | None]] = [
    ("pipeline run --once, articles/s", "articles_per_second", "{:.1f}", "", None, None),
    ("limit: extraction alone, articles/s", "limit_articles_per_second", "{:.1f}", "", None, None),
    ("ratio to the limit", "ratio_to_limit", "{:.2f}", ">= 0.85", lambda v: v >= 0.85, None),
    ("CPU per article, all processes (ms)", "cpu_ms_per_article", "{:.1f}", "", None,
     "limit_cpu_ms_per_article"),
    ("CPU per article, main process (ms)", "main_cpu_ms_per_article", "{:.1f}", "", None, None),
    ("CPU ratio to the limit", "cpu_ratio_to_limit", "{:.2f}", ">= 0.85", lambda v: v >= 0.85,
     None),
    ("sequential loop, articles/s", "sequential_articles_per_second", "{:.1f}", "", None, None),
    ("speedup vs sequential (trafilatura)", "speedup_vs_sequential", "{:.1f}x", "", None, None),
    ("speedup vs sequential (same extractor)", "speedup_vs_sequential_same_extractor", "{:.1f}x",
     ">= 7x", lambda v: v >= 7, None),
    ("304 round, --once (s)", "round_304_seconds", "{:.1f}", "", None, "round_304_floor_seconds"),
    ("304 round / its floor", "round_304_ratio_to_floor", "{:.2f}", "<= 1.15",
     lambda v: v <= 1.15, None),
    ("304 round, daemon (s)", "daemon_round_304_seconds", "{:.1f}", "", None,
     "round_304_floor_seconds"),
    ("CPU per 304 poll (ms)", "cpu_ms_per_304", "{:.2f}", "<= 2", lambda v: v <= 2, None),
    ("matching 20,000 names / extraction", "matching_share", "{:.3f}", "<= 0.05",
     lambda v: v <= 0.05, None),
    ("watchlist 20,000 / 5 names", "watchlist_ratio", "{:.2f}", "", None, None),
    ("peak RSS, main process (MB)", "peak_rss_mb", "{:.0f}", "", None, None),
    ("peak RSS, all processes summed (MB)", "peak_tree_rss_mb", "{:.0f}", "", None, None),
    ("peak PSS, all processes (MB)", "peak_tree_pss_mb", "{:.0f}", "<= 400", lambda v: v <= 400,
     None),
    ("peak PSS 20k articles, all (MB)", "peak_tree_pss_mb_20k", "{:.0f}", "<= 400",
     lambda v: v <= 400, None),
    ("main process growth, 20k (KB/article)", "main_growth_kb_per_article_20k", "{:.2f}",
     "<= 0.2", lambda v: v <= 0.2, None),
    ("scale: 304 round of 20,000 feeds (s)", "scale_round_seconds", "{:.1f}", "", None,
     "scale_round_floor_seconds"),
    ("scale round / its floor", "scale_ratio_to_floor", "{:.2f}", "<= 1.3", lambda v: v <= 1.3,
     None),
    ("scale: peak PSS, all processes (MB)", "scale_peak_pss_mb", "{:.0f}", "", None, None),
    ("machines for 180,000 feeds hourly", "machines_180k_feeds_hourly", "{:.0f}", "", None, None),
    ("dedup time 100k / 1k stored", "dedup_ratio_100k_1k", "{:.2f}", "", None, None),
]  # fmt: skip


def _shown(form: str, value: Any) -> str:
    return form.format(value) if isinstance(value, int | float) else "n/a"


def table(summary: dict[str, Any], results: dict[str, Any]) -> str:
    lines = [
        f"sanctions-watch bench: {results['articles']} articles, "
        f"{results['latency'] * 1000:.0f} ms latency, "
        f"{results['limit']['processes']} cores, {results['bench_seconds']:.0f} s",
        "",
        f"| {'figure':<38} | {'value':>8} | {'goal':>7} | {'floor':>8} | {'met':<4} |",
        f"|{'-' * 40}|{'-' * 10}|{'-' * 9}|{'-' * 10}|{'-' * 6}|",
    ]
    for label, key, form, goal, test, floor_key in _ROWS:
        value = summary.get(key)
        floor = _shown(form, summary.get(floor_key)) if floor_key else ""
        met = "" if test is None or value is None else ("yes" if test(value) else "NO")
        lines.append(
            f"| {label:<38} | {_shown(form, value):>8} | {goal:>7} | {floor:>8} | {met:<4} |"
        )
    return "\n".join(lines)
