"""The desk's review pages: the story queue, a flag, a single decision, the feeds' health.

Every page needs a signed-in session; every POST also needs the session's CSRF token, and a
decision needs the reviewer role. Handlers are plain functions (FastAPI runs them in its
thread pool), each one short transaction through the repository.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from pipeline.core.clock import utcnow
from pipeline.core.errors import NotFoundError
from pipeline.core.output import span
from pipeline.desk.api import MAX_ID
from pipeline.desk.evidence import evidence
from pipeline.desk.highlight import marked_pieces, snippet_pieces
from pipeline.desk.render import day_after, parse_day, render, reviewer, signed_in, state
from storage.models import FLAG_STATUSES
from storage.repository import QueueQuery
from storage.repository.base import POLLABLE_STATUSES

PAGE_SIZE = 50
QUEUE_TABS = (*FLAG_STATUSES, "all")
DECISIONS = ("relevant", "dismissed", "new")  # "new" reopens a flag
POLLED = POLLABLE_STATUSES  # feed statuses that have a next poll
OVERDUE_GRACE = timedelta(minutes=2)  # a poll this late is "overdue" (the daemon ticks often)

router = APIRouter(include_in_schema=False)
FlagId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("/")
def queue(
    request: Request,
    status: str = "new",
    entity: str = "",
    feed: str = "",
    since: str = "",
    until: str = "",
    q: str = "",
    page: int = 1,
) -> HTMLResponse:
    """One row per story with a flag in this status (and the filters)."""
    principal = signed_in(request)
    repository = state(request)[0]
    status = status if status in QUEUE_TABS else "new"
    page = min(max(page, 1), 100_000)
    since_day, until_day = parse_day(since), parse_day(until)
    query = QueueQuery(
        status=None if status == "all" else status,
        entity=entity.strip() or None,
        feed=feed or None,
        since=since_day,
        until=day_after(until_day),  # the whole day
        search=q.strip() or None,
        offset=(page - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
    )
    result = repository.desk_stories(query)
    feeds = [row["name"] for row in repository.list_feeds()]
    filters = {"entity": entity, "feed": feed, "since": since, "until": until, "q": q}
    kept = {key: value for key, value in filters.items() if value}

    def link(**changes: Any) -> str:
        return "/?" + urlencode({**kept, "status": status, **changes})

    return render(
        request,
        "queue.html",
        principal,
        {
            "stories": [_story_row(row) for row in result.rows],
            "counts": result.counts,
            "tabs": QUEUE_TABS,
            "status": status,
            "filters": filters,
            "filtered": bool(kept),
            "clear_link": "/?" + urlencode({"status": status}),
            "feeds": feeds,
            "page": page,
            "previous_link": link(page=page - 1) if page > 1 else None,
            "next_link": link(page=page + 1) if result.has_more else None,
            "tab_link": lambda tab: "/?" + urlencode({**kept, "status": tab}),
            "bad_dates": (since and since_day is None) or (until and until_day is None),
        },
    )


def _story_row(row: dict[str, Any]) -> dict[str, Any]:
    flags = row["flags"]
    lead = next((flag for flag in flags if flag["status"] == "new"), flags[0] if flags else None)
    return {
        **row,
        "snippet_pieces": snippet_pieces(lead["snippet"]) if lead else [],
        "new_flags": sum(1 for flag in flags if flag["status"] == "new"),
    }


@router.get("/flags/{flag_id}")
def flag_page(request: Request, flag_id: FlagId) -> HTMLResponse:
    principal = signed_in(request)
    try:
        detail = state(request)[0].desk_flag(flag_id)
    except NotFoundError:
        return render(request, "missing.html", principal, {"what": f"flag {flag_id}"}, 404)
    return render(
        request,
        "flag.html",
        principal,
        {
            "flag": detail,
            "evidence": evidence(detail["why"]),
            "snippet_pieces": snippet_pieces(detail["snippet"]),
            "document_pieces": marked_pieces(detail["document"], detail["offsets"]),
            "decisions": DECISIONS,
        },
    )


@router.post("/flags/{flag_id}/review", response_model=None)
def review(
    request: Request,
    flag_id: FlagId,
    status: Annotated[str, Form()],
    note: Annotated[str, Form(max_length=4000)] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    principal = reviewer(request, csrf_token)
    repository = state(request)[0]
    if status not in DECISIONS:
        raise HTTPException(422, f"status must be one of {', '.join(DECISIONS)}")
    try:
        # Read first: the next `new` flag in queue order, where the reviewer goes on to.
        following = repository.desk_flag(flag_id)["next_id"]
        repository.review_flag(
            flag_id, status=status, note=note.strip() or None, by=principal.name, now=utcnow()
        )
    except NotFoundError:
        raise HTTPException(404, f"no flag with id {flag_id}") from None
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"id": flag_id, "status": status, "reviewed_by": principal.name})
    return RedirectResponse(f"/flags/{following}" if following else "/", status_code=303)


@router.get("/feeds")
def feeds_page(request: Request) -> HTMLResponse:
    """Every feed's health, as `pipeline feeds list`: interval, failures, last new item, and
    a next poll in the past marked overdue."""
    principal = signed_in(request)
    now = utcnow()
    feeds = [
        {
            **feed,
            "overdue": feed["status"] in POLLED and feed["next_poll_at"] < now - OVERDUE_GRACE,
            "polled": feed["status"] in POLLED,
        }
        for feed in state(request)[0].list_feeds()
    ]
    return render(request, "feeds.html", principal, {"feeds": feeds, "span": span})
