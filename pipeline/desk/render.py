"""What every desk page shares: the app's state, the signed-in principal, rendering with the
session's CSRF token, and safe redirect targets."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from pipeline.desk.auth import CSRF_HEADER, DeskAuth, Principal, csrf_token, csrf_valid
from storage.repository import Repository


class SignInRequired(Exception):
    """Raised by a page for a visitor without a session: app.py redirects to /login."""


def state(request: Request) -> tuple[Repository, DeskAuth, Jinja2Templates]:
    app_state = request.app.state
    return app_state.repository, app_state.auth, app_state.templates


def signed_in(request: Request) -> Principal:
    principal = state(request)[1].session_principal(request)
    if principal is None:
        raise SignInRequired
    return principal


def reviewer(request: Request, submitted_csrf: str | None) -> Principal:
    """The signed-in reviewer making a change (403 otherwise: no session, bad CSRF token,
    or an observer)."""
    principal = state(request)[1].session_principal(request)
    if principal is None:
        raise HTTPException(403, "sign in first")
    if not csrf_valid(request, submitted_csrf or request.headers.get(CSRF_HEADER)):
        raise HTTPException(403, "missing or wrong CSRF token")
    if not principal.can_review:
        raise HTTPException(403, "observers cannot decide on flags")
    return principal


def render(
    request: Request,
    name: str,
    principal: Principal | None,
    context: dict[str, Any],
    status_code: int = 200,
) -> HTMLResponse:
    templates = state(request)[2]
    return templates.TemplateResponse(
        request,
        name,
        {"principal": principal, "csrf": csrf_token(request), **context},
        status_code=status_code,
    )


def local_path(target: str) -> str:
    """Only a path on this site (no open redirect to another host)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def parse_day(value: str) -> datetime | None:
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        return None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def day_after(day: datetime | None) -> datetime | None:
    if day is None or day.date() == date.max:
        return None
    return day + timedelta(days=1)
