"""The desk's HTML pages: sign-in, the review queue, a flag, the feeds' health.

Every page needs a signed-in session; every POST also needs the session's CSRF token, and a
decision needs the reviewer role. Handlers are plain functions (FastAPI runs them in its
thread pool), each one short transaction through the repository.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from pipeline.core.clock import utcnow
from pipeline.core.errors import NotFoundError
from pipeline.desk.api import MAX_ID
from pipeline.desk.auth import CSRF_HEADER, DeskAuth, Principal, csrf_token, csrf_valid
from pipeline.desk.highlight import marked_pieces, snippet_pieces
from storage.models import FLAG_STATUSES
from storage.repository import QueueQuery, Repository

PAGE_SIZE = 50
QUEUE_TABS = (*FLAG_STATUSES, "all")
DECISIONS = ("relevant", "dismissed", "new")  # "new" reopens a flag


class SignInRequired(Exception):
    """Raised by a page for a visitor without a session: app.py redirects to /login."""


router = APIRouter(include_in_schema=False)
FlagId = Annotated[int, Path(ge=1, le=MAX_ID)]


def _state(request: Request) -> tuple[Repository, DeskAuth, Jinja2Templates]:
    state = request.app.state
    return state.repository, state.auth, state.templates


def _signed_in(request: Request) -> Principal:
    principal = _state(request)[1].session_principal(request)
    if principal is None:
        raise SignInRequired
    return principal


def _render(
    request: Request,
    name: str,
    principal: Principal | None,
    context: dict[str, Any],
    status_code: int = 200,
) -> HTMLResponse:
    templates = _state(request)[2]
    return templates.TemplateResponse(
        request,
        name,
        {"principal": principal, "csrf": csrf_token(request), **context},
        status_code=status_code,
    )


# ---- sign-in -------------------------------------------------------------------------------


@router.get("/login")
def login_page(request: Request, next: str = "/") -> HTMLResponse:
    return _render(request, "login.html", None, {"next": _local(next), "error": None})


@router.post("/login", response_model=None)
def login(
    request: Request,
    csrf_token: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    auth = _state(request)[1]
    if not csrf_valid(request, csrf_token):
        error = "The form expired: please sign in again."
    elif auth.sign_in(request, name.strip(), password, token.strip()):
        return RedirectResponse(_local(next), status_code=303)
    else:
        error = "Unknown name or password (or token)."
    context = {"next": _local(next), "error": error}
    return _render(request, "login.html", None, context, status_code=401)


@router.post("/logout")
def logout(request: Request, csrf_token: Annotated[str, Form()] = "") -> RedirectResponse:
    if not csrf_valid(request, csrf_token):
        raise HTTPException(403, "missing or wrong CSRF token")
    _state(request)[1].sign_out(request)
    return RedirectResponse("/login", status_code=303)


# ---- the queue -----------------------------------------------------------------------------


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
    principal = _signed_in(request)
    repository = _state(request)[0]
    status = status if status in QUEUE_TABS else "new"
    page = min(max(page, 1), 100_000)
    since_day, until_day = _day(since), _day(until)
    query = QueueQuery(
        status=None if status == "all" else status,
        entity=entity.strip() or None,
        feed=feed or None,
        since=since_day,
        until=_day_after(until_day),  # the whole day
        search=q.strip() or None,
        offset=(page - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
    )
    result = repository.desk_queue(query)
    feeds = [row["name"] for row in repository.list_feeds()]
    filters = {"entity": entity, "feed": feed, "since": since, "until": until, "q": q}
    kept = {key: value for key, value in filters.items() if value}

    def link(**changes: Any) -> str:
        return "/?" + urlencode({**kept, "status": status, **changes})

    return _render(
        request,
        "queue.html",
        principal,
        {
            "rows": [_queue_row(row) for row in result.rows],
            "counts": {**result.counts, "all": sum(result.counts.values())},
            "tabs": QUEUE_TABS,
            "status": status,
            "filters": filters,
            "feeds": feeds,
            "page": page,
            "previous_link": link(page=page - 1) if page > 1 else None,
            "next_link": link(page=page + 1) if result.has_more else None,
            "tab_link": lambda tab: "/?" + urlencode({**kept, "status": tab}),
            "bad_dates": (since and since_day is None) or (until and until_day is None),
        },
    )


def _queue_row(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "snippet_pieces": snippet_pieces(row["snippet"])}


# ---- one flag ------------------------------------------------------------------------------


@router.get("/flags/{flag_id}")
def flag_page(request: Request, flag_id: FlagId) -> HTMLResponse:
    principal = _signed_in(request)
    try:
        detail = _state(request)[0].desk_flag(flag_id)
    except NotFoundError:
        return _render(request, "missing.html", principal, {"what": f"flag {flag_id}"}, 404)
    return _render(
        request,
        "flag.html",
        principal,
        {
            "flag": detail,
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
    repository, auth, _templates = _state(request)
    principal = auth.session_principal(request)
    if principal is None:
        raise HTTPException(403, "sign in first")
    if not csrf_valid(request, csrf_token or request.headers.get(CSRF_HEADER)):
        raise HTTPException(403, "missing or wrong CSRF token")
    if not principal.can_review:
        raise HTTPException(403, "observers cannot decide on flags")
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


# ---- feeds ---------------------------------------------------------------------------------


@router.get("/feeds")
def feeds_page(request: Request) -> HTMLResponse:
    principal = _signed_in(request)
    feeds = _state(request)[0].list_feeds()
    return _render(request, "feeds.html", principal, {"feeds": feeds})


# ---- helpers -------------------------------------------------------------------------------


def _local(target: str) -> str:
    """Only a path on this site (no open redirect to another host)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _day_after(day: datetime | None) -> datetime | None:
    if day is None or day.date() == date.max:
        return None
    return day + timedelta(days=1)


def _day(value: str) -> datetime | None:
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        return None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
