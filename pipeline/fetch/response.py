"""What one request's answer means: a redirect to follow, an HTTP error, or a final body.

Every answer is also reported to the host gate (pipeline.fetch.politeness), which hears of
every 429/503 and its Retry-After so that the whole host can be slowed down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from pipeline.core.errors import HTTPStatusError
from pipeline.fetch.decode import read_body
from pipeline.fetch.guard import checked_url
from pipeline.fetch.politeness import HostGate

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True, slots=True)
class Hop:
    """One request's answer: where to go next, or the final status, headers and body."""

    status: int
    headers: dict[str, str]
    body: bytes = b""
    redirect_to: httpx.URL | None = None


async def answer(response: httpx.Response, gate: HostGate, max_bytes: int) -> Hop:
    """The Hop a streamed response stands for; HTTPStatusError for a 4xx/5xx status."""
    status = response.status_code
    headers = {name.lower(): value for name, value in response.headers.items()}
    retry_after = parse_retry_after(headers.get("retry-after")) if status >= 400 else None
    gate.answered(response.url.host, status, retry_after)
    if status in REDIRECT_STATUSES:
        return Hop(status, headers, redirect_to=_redirect_target(response))
    if status >= 400:
        raise HTTPStatusError(
            f"HTTP {status} {response.reason_phrase} from {response.url}",
            status=status,
            retry_after=retry_after,
        )
    if status == 304:
        # Read to its end (a 304 has no body): a response closed unread closes its
        # connection, and the next poll of the host would pay for a new one.
        await read_body(response, max_bytes)
        return Hop(status, headers)
    return Hop(status, headers, body=await read_body(response, max_bytes))


def _redirect_target(response: httpx.Response) -> httpx.URL:
    location = response.headers.get("location")
    if not location:
        raise HTTPStatusError(
            f"HTTP {response.status_code} redirect without a Location header from {response.url}",
            status=response.status_code,
        )
    return checked_url(response.url.join(location))


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), never
    negative; None when the header is missing or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds: float | None = float(text)
    except ValueError:
        seconds = _seconds_until(text, now or datetime.now(UTC))
    if seconds is None or not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _seconds_until(http_date: str, now: datetime) -> float | None:
    try:
        when = parsedate_to_datetime(http_date)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=UTC)
    return (when - now).total_seconds()
