"""Signing in and out of the desk, behind the sign-in throttle (pipeline.desk.throttle).

The handler is async so that attempts waiting for an argon2 slot hold no thread: the queue
and the other pages keep the thread pool during a flood of sign-ins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from pipeline.desk.auth import DeskAuth, csrf_valid
from pipeline.desk.render import local_path, render
from pipeline.desk.throttle import SignInBusy, SignInGuard

router = APIRouter(include_in_schema=False)
TEAM_SIGN_IN = "(team token)"  # the audit's name for a sign-in by token


@router.get("/login")
def login_page(request: Request, next: str = "/") -> HTMLResponse:
    return render(request, "login.html", None, {"next": local_path(next), "error": None})


@router.post("/login", response_model=None)
async def login(
    request: Request,
    csrf_token: Annotated[str, Form()] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    token: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    auth: DeskAuth = request.app.state.auth
    guard: SignInGuard = request.app.state.sign_in_guard
    clock = request.app.state.clock
    name, token = name.strip(), token.strip()
    who = TEAM_SIGN_IN if token else name
    address = request.client.host if request.client else "unknown"
    repository = request.app.state.repository

    def refuse(error: str, status: int, headers: dict[str, str] | None = None) -> Response:
        context = {"next": local_path(next), "error": error}
        answer = render(request, "login.html", None, context, status_code=status)
        answer.headers.update(headers or {})
        return answer

    if not csrf_valid(request, csrf_token):
        return refuse("The form expired: please sign in again.", 401)
    now = clock()
    throttle = await run_in_threadpool(guard.locked, who, address, now)
    if throttle is not None:
        await run_in_threadpool(repository.record_sign_in_event, who, address, "throttled", now)
        wait = throttle.retry_after(now)
        return refuse(
            f"Too many failed sign-ins: try again in {wait} s.", 429, {"Retry-After": str(wait)}
        )
    try:
        async with guard.verifying():
            found = await run_in_threadpool(auth.check, name, password, token)
    except SignInBusy:
        return refuse("The desk is busy checking sign-ins: try again.", 503, {"Retry-After": "1"})
    if found is None:
        await run_in_threadpool(guard.failed, who, address, now)
        await run_in_threadpool(repository.record_sign_in_event, who, address, "failed", now)
        return refuse("Unknown name or password (or token).", 401)
    principal, team = found
    await run_in_threadpool(guard.succeeded, who)
    await run_in_threadpool(repository.record_sign_in_event, who, address, "ok", now)
    auth.start_session(request, principal, team)
    return RedirectResponse(local_path(next), status_code=303)


@router.post("/logout")
def logout(request: Request, csrf_token: Annotated[str, Form()] = "") -> RedirectResponse:
    if not csrf_valid(request, csrf_token):
        raise HTTPException(403, "missing or wrong CSRF token")
    auth: DeskAuth = request.app.state.auth
    auth.sign_out(request)
    return RedirectResponse("/login", status_code=303)
