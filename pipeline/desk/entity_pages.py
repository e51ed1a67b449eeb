"""Entity pages: /entities (every entity with coverage, one small timeline each) and
/entities/{id} (the entity, its coverage timeline, outlets, languages and stories)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from pipeline.core.clock import utcnow
from pipeline.core.errors import NotFoundError
from pipeline.desk.api_entities import ENTITY_ID
from pipeline.desk.render import render, signed_in, state
from pipeline.desk.timeline import Bucketing, Stacking, count_buckets, legend, timeline_svg
from storage.models import FLAG_STATUSES

OVERVIEW_LIMIT = 100  # entities with coverage shown on /entities, most recent coverage first
SPARK_DAYS = 60  # the overview's small timelines: the last 60 days, up to today
WEEKS_AFTER_DAYS = 120  # a longer coverage is drawn by week

router = APIRouter(include_in_schema=False)


@router.get("/entities")
def entities_page(request: Request) -> HTMLResponse:
    principal = signed_in(request)
    repository = state(request)[0]
    entities = repository.entities_overview()
    covered = [entity for entity in entities if entity["stories"]]
    covered.sort(key=lambda entity: entity["latest_coverage_at"], reverse=True)
    today = utcnow().date()  # one window for every entity: their lines compare
    for entity in covered[:OVERVIEW_LIMIT]:
        buckets = count_buckets(
            repository.entity_coverage(entity["id"]),
            since=today - timedelta(days=SPARK_DAYS - 1),
            until=today,
        )
        entity["spark"] = timeline_svg(
            buckets, compact=True, label=f"{entity['name']}: stories per day"
        )
    return render(
        request,
        "entities.html",
        principal,
        {
            "entities": covered[:OVERVIEW_LIMIT],
            "more": max(len(covered) - OVERVIEW_LIMIT, 0),
            "uncovered": [entity for entity in entities if not entity["stories"]],
            "spark_days": SPARK_DAYS,
        },
    )


@router.get("/entities/{entity_id}")
def entity_page(
    request: Request,
    entity_id: Annotated[str, Path(pattern=ENTITY_ID)],
    status: str = "",
    feed: str = "",
    language: str = "",
    by: str = "language",
    bucket: str = "",
) -> HTMLResponse:
    principal = signed_in(request)
    repository = state(request)[0]
    try:
        entity = repository.entity_page(
            entity_id,
            status=status if status in FLAG_STATUSES else None,
            feed=feed or None,
            language=language or None,
        )
        coverage = repository.entity_coverage(entity_id)
    except NotFoundError:
        return render(request, "missing.html", principal, {"what": f"entity {entity_id}"}, 404)
    stacking: Stacking = "feed" if by == "feed" else "language"
    bucketing = _bucketing(bucket, entity)
    buckets = count_buckets(coverage, bucketing=bucketing, stacking=stacking)
    filters = {"status": status, "feed": feed, "language": language}
    kept = {key: value for key, value in filters.items() if value}

    def link(**changes: Any) -> str:
        return f"/entities/{entity_id}?" + urlencode({**kept, "by": stacking, **changes})

    return render(
        request,
        "entity.html",
        principal,
        {
            "entity": entity,
            "chart": timeline_svg(
                buckets, label=f"{entity['name']}: stories per {bucketing} by {stacking}"
            ),
            "legend": legend(buckets),
            "bars": sum(1 for b in buckets if b.total),
            "bucketing": bucketing,
            "stacking": stacking,
            "filters": filters,
            "statuses": FLAG_STATUSES,
            "link": link,
            "clear_link": f"/entities/{entity_id}?by={stacking}",
        },
    )


def _bucketing(asked: str, entity: dict[str, Any]) -> Bucketing:
    if asked in ("day", "week"):
        return "week" if asked == "week" else "day"
    first, latest = entity["first_coverage_at"], entity["latest_coverage_at"]
    if first is not None and latest is not None and (latest - first).days > WEEKS_AFTER_DAYS:
        return "week"
    return "day"
