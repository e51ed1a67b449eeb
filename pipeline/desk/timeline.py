"""An entity's coverage over time: flag rows counted into day or week buckets, stacked by
language or feed, with its decisions; and the same drawn as a small server-side SVG.

The chart is built here rather than with pygal: pygal cannot overlay a line on stacked bars,
and its inline <style> is blocked by the desk's Content-Security-Policy (style-src 'self'). The
SVG uses classes only (styled by desk.css), and xml.etree escapes every label.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

from markupsafe import Markup

Bucketing = Literal["day", "week"]
Stacking = Literal["language", "feed"]
MAX_BUCKETS = 400  # a longer range keeps its latest buckets
SERIES_COLOURS = 8  # series beyond the 7 largest are drawn together as "other"
OTHER = "other"


@dataclass(slots=True)
class Bucket:
    start: date
    stories: Counter[str] = field(default_factory=Counter)  # series -> stories
    relevant: int = 0
    dismissed: int = 0
    decisions: int = 0

    @property
    def total(self) -> int:
        return sum(self.stories.values())


def bucket_start(day: date, bucketing: Bucketing) -> date:
    """The bucket a day falls in: itself, or the Monday of its ISO week."""
    return day - timedelta(days=day.weekday()) if bucketing == "week" else day


def count_buckets(
    rows: Iterable[dict[str, Any]],
    *,
    bucketing: Bucketing = "day",
    stacking: Stacking = "language",
    since: date | None = None,
    until: date | None = None,
) -> list[Bucket]:
    """Every bucket from `since` (else the first coverage) to `until` (else the last), empty
    ones included, so that bars stand at their place in time."""
    rows = list(rows)
    step = timedelta(days=7 if bucketing == "week" else 1)
    days = [_day(row["at"]) for row in rows]
    decided = [_day(at) for row in rows for at in row["decided_at"]]
    known = days + decided
    if not known and (since is None or until is None):
        return []
    first = bucket_start(since or min(known), bucketing)
    last = bucket_start(until or max(known), bucketing)
    if (last - first) // step >= MAX_BUCKETS:
        first = last - step * (MAX_BUCKETS - 1)
    buckets: dict[date, Bucket] = {}
    current = first
    while current <= last:
        buckets[current] = Bucket(current)
        current += step
    for row, day in zip(rows, days, strict=True):
        bucket = buckets.get(bucket_start(day, bucketing))
        if bucket is None:
            continue
        bucket.stories[str(row[stacking] or "?")] += 1
        if row["status"] in ("relevant", "dismissed"):
            setattr(bucket, row["status"], getattr(bucket, row["status"]) + 1)
    for day in decided:
        bucket = buckets.get(bucket_start(day, bucketing))
        if bucket is not None:
            bucket.decisions += 1
    return list(buckets.values())


def series_order(buckets: Sequence[Bucket]) -> list[str]:
    """Series by size, largest first; past SERIES_COLOURS - 1 the rest is OTHER."""
    totals: Counter[str] = Counter()
    for bucket in buckets:
        totals.update(bucket.stories)
    names = [name for name, _ in totals.most_common()]
    if len(names) > SERIES_COLOURS:
        names = [*names[: SERIES_COLOURS - 1], OTHER]
    return names


def timeline_svg(
    buckets: Sequence[Bucket], *, compact: bool = False, label: str = "coverage"
) -> Markup:
    """Stacked bars (one <g class="bar"> per bucket with stories), the decisions as a line and
    the relevant stories as dots, on one count scale."""
    series = series_order(buckets)
    colour = {name: index for index, name in enumerate(series)}
    slots = max(len(buckets), 1)
    # Wide enough to read at any number of buckets: bars widen to fill ~720 units.
    width_per, height = (6, 40) if compact else (max(12, min(48, 720 // slots)), 200)
    left, bottom, top = (0, 0, 2) if compact else (28, 22, 8)
    plot_height = height - bottom - top
    width = left + slots * width_per + 4
    peak = max([1, *(max(b.total, b.decisions, b.relevant) for b in buckets)])
    svg = ET.Element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "class": "timeline compact" if compact else "timeline",
            "viewBox": f"0 0 {width} {height}",
            "role": "img",
            "aria-label": label,
        },
    )
    ET.SubElement(svg, "title").text = label

    def y(count: float) -> float:
        return round(top + plot_height * (1 - count / peak), 2)

    if compact:  # the baseline shows the whole window, quiet days included
        ET.SubElement(
            svg, "line", {"class": "baseline", "x1": "0", "x2": str(width), "y1": str(y(0))}
        ).set("y2", str(y(0)))
    else:
        _axes(svg, buckets, left, width, height, bottom, peak, y, width_per)
    for index, bucket in enumerate(buckets):
        if bucket.total:
            _bar(svg, bucket, left + index * width_per + 1, width_per - 2, colour, y)
    _overlay(svg, buckets, left, width_per, y)
    return Markup(ET.tostring(svg, encoding="unicode"))  # noqa: S704 - built by ElementTree


def _bar(
    svg: ET.Element, bucket: Bucket, x: int, width: int, colour: dict[str, int], y: Any
) -> None:
    """One bucket's bar: a segment per series (bottom up, in legend order) and a tooltip."""
    bar = ET.SubElement(svg, "g", {"class": "bar", "data-start": bucket.start.isoformat()})
    parts = ", ".join(f"{name} {n}" for name, n in bucket.stories.most_common())
    ET.SubElement(bar, "title").text = (
        f"{bucket.start.isoformat()}: {bucket.total} stor{'y' if bucket.total == 1 else 'ies'}"
        f" ({parts}); {bucket.relevant} relevant, {bucket.decisions} decision(s)"
    )
    by_series: Counter[int] = Counter()
    for name, n in bucket.stories.items():
        by_series[colour.get(name, colour.get(OTHER, 0))] += n
    stacked = 0
    for series_index in sorted(by_series):
        n = by_series[series_index]
        top, bottom = y(stacked + n), y(stacked)
        ET.SubElement(
            bar,
            "rect",
            {
                "class": f"segment s{series_index}",
                "x": str(x),
                "y": str(top),
                "width": str(width),
                "height": str(round(bottom - top, 2)),
            },
        )
        stacked += n


def legend(buckets: Sequence[Bucket]) -> list[tuple[str, int]]:
    """(series name, colour index) for the page's legend."""
    return [(name, index) for index, name in enumerate(series_order(buckets))]


def _overlay(svg: ET.Element, buckets: Sequence[Bucket], left: int, width_per: int, y: Any) -> None:
    centre = [left + index * width_per + width_per / 2 for index in range(len(buckets))]
    decided = [(x, b.decisions) for x, b in zip(centre, buckets, strict=True) if b.decisions]
    if len(decided) > 1:
        points = " ".join(f"{x},{y(n)}" for x, n in decided)
        ET.SubElement(svg, "polyline", {"class": "decisions", "points": points})
    for x, n in decided:
        mark = ET.SubElement(svg, "rect", {"class": "decision", "x": str(x - 2.5)})
        mark.set("y", str(y(n) - 2.5))
        mark.set("width", "5")
        mark.set("height", "5")
        ET.SubElement(mark, "title").text = f"{n} decision(s)"
    for x, bucket in zip(centre, buckets, strict=True):
        if bucket.relevant:
            dot = ET.SubElement(
                svg, "circle", {"class": "relevant", "cx": str(x), "cy": str(y(bucket.relevant))}
            )
            dot.set("r", "2.5")


def _axes(
    svg: ET.Element,
    buckets: Sequence[Bucket],
    left: int,
    width: int,
    height: int,
    bottom: int,
    peak: int,
    y: Any,
    width_per: int,
) -> None:
    axis = ET.SubElement(svg, "g", {"class": "axis"})
    ET.SubElement(
        axis, "line", {"x1": str(left), "x2": str(width), "y1": str(y(0)), "y2": str(y(0))}
    )
    for count in sorted({0, peak // 2, peak}):
        text = ET.SubElement(axis, "text", {"x": str(left - 4), "y": str(y(count) + 4)})
        text.set("text-anchor", "end")
        text.text = str(count)
    every = max(1, -(-64 // width_per))  # a label at least every 64 units: no overlap
    for index in range(0, len(buckets), every):
        text = ET.SubElement(
            axis, "text", {"x": str(left + index * width_per), "y": str(height - bottom + 14)}
        )
        text.text = buckets[index].start.strftime("%d %b")


def _day(value: datetime | date) -> date:
    return value.date() if isinstance(value, datetime) else value
