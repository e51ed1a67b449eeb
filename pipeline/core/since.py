"""The one grammar for "since when": an ISO date or date-time (UTC unless it says otherwise), or
a span back from now (90s, 15m, 12h, 2d). The CLI's --since and the API's `since` share it."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from pipeline.core.clock import as_utc
from pipeline.core.config import parse_duration

_SPAN = re.compile(r"^\d+(\.\d+)?\s*[smhd]$")


def parse_since(value: str, now: datetime) -> datetime:
    """Aware UTC; ValueError with a one-line reason naming the value when it is neither form."""
    text = value.strip()
    try:
        if _SPAN.match(text):
            return now - timedelta(seconds=parse_duration(text))
        return as_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except (ValueError, OverflowError):  # 2025-02-30; 0001-01-01T00:00:00+05:00; 10**12d
        raise ValueError(f"{value!r} is not an ISO date (2025-01-31) or a span (2d, 12h)") from None
