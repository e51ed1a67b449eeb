"""The one exception tree of sanctions-watch.

Third-party errors (httpx, feedparser, trafilatura, SQLAlchemy, pydantic) are translated into
these at the module that calls the library, so callers only ever catch ``PipelineError``::

    PipelineError
    ├── ConfigError                 feeds.yaml or watchlist.yaml is invalid (exit code 2)
    ├── FetchError                  anything that stopped us from getting a response body
    │   ├── AddressRefusedError     the host resolves to a loopback/private/link-local address
    │   ├── InvalidURLError         not an http(s) URL, or no host
    │   ├── BodyTooLargeError       the body exceeds fetch.max_bytes (refused while streaming)
    │   ├── TooManyRedirectsError   more than 5 redirects, or a redirect loop
    │   ├── FetchTimeoutError       connect/read timeout or the total deadline
    │   ├── NetworkError            DNS failure, connection refused/reset, TLS failure
    │   └── HTTPStatusError         a 4xx/5xx answer (status, retry_after)
    ├── FeedParseError              the feed body is not a feed we can read (or is hostile XML)
    ├── ExtractionError             the page yields no usable text
    ├── StorageError                the database failed
    │   └── SchemaOutdatedError     the database schema is behind: run `pipeline db upgrade`
    ├── NotFoundError               no record with that id (e.g. `flags show 999`)
    ├── CandidateStateError         the candidate's status does not allow that decision
    └── LeaseLostError              another worker took over the feed of a poll in progress
"""

from __future__ import annotations


class PipelineError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(PipelineError):
    """Invalid configuration; the message names the key path and the value."""


class FetchError(PipelineError):
    """A request did not produce a usable body."""

    def __init__(self, message: str, *, url: str = "") -> None:
        super().__init__(message)
        self.url = url


class AddressRefusedError(FetchError):
    """The host resolves to an address the address guard refuses."""


class InvalidURLError(FetchError):
    """The URL cannot be fetched (scheme, host)."""


class BodyTooLargeError(FetchError):
    """The body is larger than fetch.max_bytes."""


class TooManyRedirectsError(FetchError):
    """Redirect limit exceeded or a redirect loop."""


class FetchTimeoutError(FetchError):
    """A timeout, or the total deadline of one request."""


class NetworkError(FetchError):
    """DNS, connection or TLS failure."""


class HTTPStatusError(FetchError):
    """The server answered with an error status."""

    def __init__(
        self, message: str, *, url: str = "", status: int, retry_after: float | None = None
    ) -> None:
        super().__init__(message, url=url)
        self.status = status
        self.retry_after = retry_after


class FeedParseError(PipelineError):
    """The body is not a readable feed."""


class ExtractionError(PipelineError):
    """The page gave no usable article text."""


class StorageError(PipelineError):
    """The database failed."""


class SchemaOutdatedError(StorageError):
    """The database schema is older than this code."""


class NotFoundError(PipelineError):
    """A record asked for by id does not exist."""


class CandidateStateError(PipelineError):
    """A decision that the candidate's status does not allow (already promoted)."""


class LeaseLostError(PipelineError):
    """Another worker took over the feed this poll was for (this one was frozen or cut off
    for longer than `schedule.lease`): the poll's results are dropped, not stored twice."""
