"""The desk application: pages, read API, /metrics and /healthz over one repository.

Safe beside any number of workers: it holds no state of its own (sessions are signed cookies)
and every request is one short transaction.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

import jinja2
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline.core.errors import StorageError
from pipeline.core.output import short_time
from pipeline.desk import api, pages
from pipeline.desk.auth import DeskAuth
from pipeline.ops import metrics
from storage.repository import Repository

HERE = Path(__file__).parent
SESSION_COOKIE = "desk_session"
SESSION_MAX_AGE = 12 * 3600  # a working day; then sign in again
# Inline scripts and styles never run: hostile article text that slipped through escaping
# still could not execute.
SECURITY_HEADERS = {
    b"content-security-policy": (
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        b"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    b"x-content-type-options": b"nosniff",
    b"x-frame-options": b"DENY",
    b"referrer-policy": b"same-origin",
}


def create_app(
    repository: Repository, *, secret_key: str, auth_token: str | None = None
) -> FastAPI:
    app = FastAPI(
        title="sanctions-watch read API",
        version="1",
        description="Flags, articles and feeds, read-only. Authenticate with "
        "`Authorization: Bearer <token>` (`pipeline users token NAME`, or the --auth-token).",
        docs_url=None,  # Swagger UI loads scripts from a CDN; the spec is enough
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.repository = repository
    app.state.auth = DeskAuth(repository, auth_token)
    app.state.templates = _templates()
    app.include_router(api.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret_key,
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        same_site="lax",
    )
    app.add_middleware(_SecurityHeaders)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        try:
            repository.ping()
        except StorageError:
            return JSONResponse({"status": "database unavailable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    @app.get("/metrics", include_in_schema=False)
    async def metrics_endpoint() -> Response:
        body, content_type = await run_in_threadpool(metrics.render_metrics, repository)
        return Response(body, media_type=content_type)

    @app.exception_handler(pages.SignInRequired)
    async def sign_in(request: Request, _exc: Exception) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)

    @app.exception_handler(StorageError)
    async def storage_down(request: Request, exc: Exception) -> Response:
        message = "the database is unavailable; try again shortly"
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": message}, status_code=503)
        return PlainTextResponse(message, status_code=503)

    return app


def _templates() -> Jinja2Templates:
    # Autoescape everything: article text is hostile input and is never marked safe.
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["when"] = short_time
    return Jinja2Templates(env=environment)


class _SecurityHeaders:
    """Adds SECURITY_HEADERS to every response (a plain ASGI middleware: no body buffering)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS.items()]
            await send(message)

        await self.app(scope, receive, send_with_headers)
