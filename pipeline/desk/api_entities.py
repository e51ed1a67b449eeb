"""The read API's entities: every entity with its coverage, and one entity's timeline
(stories per day or week, by language or feed, with decisions). Same token as /api/flags."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel

from pipeline.desk.api import (
    _UNAUTHORIZED,
    ISO_DATETIME,
    EntityOut,
    ErrorOut,
    Repo,
    _found,
    _utc,
    api_principal,
)
from pipeline.desk.timeline import Bucketing, Stacking, count_buckets

ENTITY_ID = r"^[A-Za-z0-9._:-]{1,200}$"


class EntityCoverageOut(EntityOut):
    """An entity as the watchlist names it, with its flags per status and coverage span."""

    stories: int
    flags: dict[str, int]
    first_coverage_at: datetime | None
    latest_coverage_at: datetime | None


class BucketOut(BaseModel):
    start: date  # the day, or the Monday of the ISO week
    stories: int
    by: dict[str, int]  # stories per language (or feed)
    relevant: int  # of these stories, decided relevant
    dismissed: int
    decisions: int  # review decisions made in this bucket


class TimelineOut(BaseModel):
    entity_id: str
    bucket: Bucketing
    by: Stacking
    buckets: list[BucketOut]


router = APIRouter(prefix="/api", tags=["read API"], dependencies=[Depends(api_principal)])
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "No such entity"}
}


@router.get("/entities", response_model=list[EntityCoverageOut], responses=_UNAUTHORIZED)
def list_entities(repository: Repo) -> list[EntityCoverageOut]:
    """Every watchlist entity with its stories, flags per status and first/latest coverage."""
    return [EntityCoverageOut.model_validate(row) for row in repository.entities_overview()]


@router.get(
    "/entities/{entity_id}/timeline",
    response_model=TimelineOut,
    responses={**_UNAUTHORIZED, **_NOT_FOUND, 400: {"model": ErrorOut, "description": "Bad date"}},
)
def entity_timeline(
    repository: Repo,
    entity_id: Annotated[str, Path(pattern=ENTITY_ID)],
    bucket: Annotated[Bucketing, Query(description="day, or ISO week (from Monday)")] = "day",
    since: Annotated[
        str | None,
        Query(
            max_length=40,
            pattern=ISO_DATETIME,
            description="First bucket: the one holding this date (default: first coverage).",
        ),
    ] = None,
    by: Annotated[Stacking, Query(description="Stack stories by language or by feed.")] = (
        "language"
    ),
) -> TimelineOut:
    """Counts per bucket, from `since` (or the first coverage) to the latest coverage or
    decision. A story is counted on its publication day (else the day it was fetched)."""
    rows = _found(lambda: {"rows": repository.entity_coverage(entity_id)})["rows"]
    start = _utc(since)
    if start is not None and start.year < 1900:
        raise HTTPException(400, "since: too far in the past")
    buckets = count_buckets(
        rows, bucketing=bucket, stacking=by, since=start.date() if start else None
    )
    return TimelineOut(
        entity_id=entity_id,
        bucket=bucket,
        by=by,
        buckets=[
            BucketOut(
                start=b.start,
                stories=b.total,
                by=dict(b.stories),
                relevant=b.relevant,
                dismissed=b.dismissed,
                decisions=b.decisions,
            )
            for b in buckets
        ],
    )
