"""The read API: JSON over the same database, token-authenticated, described by OpenAPI.

Every response has a pydantic model, so /api/openapi.json is what the handlers really return
(schemathesis checks it: tests/test_web_api.py). Flags page by an opaque cursor over their ids:
a stable order in which new flags only ever appear at the end.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from pipeline.core.clock import utcnow
from pipeline.core.errors import NotFoundError
from pipeline.core.since import parse_since
from pipeline.desk.auth import DeskAuth, Principal
from storage.repository import Repository

MAX_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL
ISO_DATETIME = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?)?(Z|[+-][0-9]{2}:[0-9]{2})?$"
)
NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL: refuse it up front (422)
_CURSOR_PREFIX = "after:"

FlagStatus = Literal["new", "relevant", "dismissed"]


class ErrorOut(BaseModel):
    detail: str


class FlagOut(BaseModel):
    """A flag: the fields of `pipeline flags list --format json`."""

    id: int
    article_id: int
    url: str
    title: str
    feed: str
    published_at: datetime | None
    first_seen_at: datetime
    entity_id: str
    entity: str
    matched: str
    snippet: str
    mentions: int
    status: FlagStatus
    note: str | None
    reviewed_by: str | None
    reviewed_at: datetime | None
    score: float
    rule: str
    duplicates: list[str]


class FlagPage(BaseModel):
    items: list[FlagOut]
    next_cursor: str | None  # pass as `cursor` for the next page; null on the last page


class ReviewOut(BaseModel):
    from_status: str
    to_status: str
    note: str | None
    reviewed_by: str | None
    reviewed_at: datetime


class EntityOut(BaseModel):
    id: str
    name: str
    kind: str
    country: str | None
    programs: list[str]
    aliases: list[str]
    source: str


class AppearanceOut(BaseModel):
    """One copy of the story: where it was found, and by which feed."""

    article_id: int
    url: str
    final_url: str | None
    feed: str
    fetched_at: datetime


class FlagDetailOut(FlagOut):
    offsets: list[list[int]]  # [start, end) of every mention in title + "\n\n" + text
    why: dict[str, Any]
    history: list[ReviewOut]
    entity_info: EntityOut
    appearances: list[AppearanceOut]


class ArticleOut(BaseModel):
    id: int
    url: str
    canonical_url: str
    final_url: str | None
    feed: str
    title: str
    author: str | None
    published_at: datetime | None
    fetched_at: datetime
    language: str | None
    text: str
    text_source: str
    story_id: int
    duplicate_of: int | None
    urls: list[str]
    flag_ids: list[int]


class FeedOut(BaseModel):
    name: str
    url: str
    status: str
    tags: list[str]
    interval_seconds: float
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    last_new_item_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    consecutive_failures: int
    next_poll_at: datetime
    articles: int
    flags: int


_bearer = HTTPBearer(
    auto_error=False,
    description="A user's API token (`pipeline users token NAME`) or the `--auth-token`.",
)
_UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "No or unknown API token"}
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "No such id"}
}


def api_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    auth: DeskAuth = request.app.state.auth
    principal = auth.bearer_principal(credentials.credentials) if credentials else None
    if principal is None:
        raise HTTPException(
            401, "missing or unknown API token", headers={"WWW-Authenticate": "Bearer"}
        )
    return principal


def _repository(request: Request) -> Repository:
    repository: Repository = request.app.state.repository
    return repository


router = APIRouter(prefix="/api", tags=["read API"], dependencies=[Depends(api_principal)])
Repo = Annotated[Repository, Depends(_repository)]
Id = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get(
    "/flags",
    response_model=FlagPage,
    responses={**_UNAUTHORIZED, 400: {"model": ErrorOut, "description": "Bad cursor or date"}},
)
def list_flags(
    repository: Repo,
    status: Annotated[FlagStatus | None, Query(description="Only flags in this status.")] = None,
    since: Annotated[
        str | None,
        Query(
            max_length=40,
            description="First seen at or after: an ISO 8601 date or date-time (UTC unless "
            "it has an offset), e.g. 2025-01-31 or 2025-01-31T08:00:00Z, or a span back from "
            "now as the CLI's --since takes it: 90s, 15m, 12h, 2d.",
        ),
    ] = None,
    entity: Annotated[
        str | None,
        Query(max_length=200, pattern=NO_NUL, description="Entity id or part of its name."),
    ] = None,
    cursor: Annotated[
        str | None, Query(max_length=200, description="`next_cursor` of the previous page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> FlagPage:
    """Flags in a stable order (ascending id), one page at a time."""
    rows = repository.api_flags_page(
        status=status,
        since=_utc(since),
        entity=entity or None,
        after_id=decode_cursor(cursor) if cursor else 0,
        limit=limit + 1,  # one more tells whether there is a next page
    )
    items = [FlagOut.model_validate(row) for row in rows[:limit]]
    has_more = len(rows) > limit
    return FlagPage(items=items, next_cursor=encode_cursor(items[-1].id) if has_more else None)


@router.get("/flags/{flag_id}", response_model=FlagDetailOut, responses=_UNAUTHORIZED | _NOT_FOUND)
def get_flag(repository: Repo, flag_id: Id) -> FlagDetailOut:
    """One flag with its mentions' offsets, its review history, its entity and every copy."""
    detail = _found(lambda: repository.desk_flag(flag_id))
    return FlagDetailOut.model_validate({**detail, "entity_info": detail["entity_record"]})


@router.get(
    "/articles/{article_id}", response_model=ArticleOut, responses=_UNAUTHORIZED | _NOT_FOUND
)
def get_article(repository: Repo, article_id: Id) -> ArticleOut:
    """One stored article (the api_articles row), every URL known for it and its flags."""
    return ArticleOut.model_validate(_found(lambda: repository.article_detail(article_id)))


@router.get("/feeds", response_model=list[FeedOut], responses=_UNAUTHORIZED)
def list_feeds(repository: Repo) -> list[FeedOut]:
    """Every feed with its health, as `pipeline feeds list --format json`."""
    return [FeedOut.model_validate(feed) for feed in repository.list_feeds()]


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise HTTPException(400, "bad cursor: pass next_cursor back unchanged") from None
    number = raw.removeprefix(_CURSOR_PREFIX)
    if raw == number or not number.isdigit() or int(number) > MAX_ID:
        raise HTTPException(400, "bad cursor: pass next_cursor back unchanged")
    return int(number)


def _utc(value: str | None) -> datetime | None:
    """The `since` parameter as aware UTC. Parsed here, not by pydantic, which would also
    take a bare number as a Unix timestamp."""
    if value is None:
        return None
    try:
        return parse_since(value, utcnow())  # the CLI's grammar: ISO date or 2d
    except ValueError as exc:
        raise HTTPException(400, f"since: {exc}") from None


def _found(load: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return load()
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
