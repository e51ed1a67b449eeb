"""The desk application: pages, read API, /metrics and /healthz over one repository.

Safe beside any number of workers: it holds no state of its own (sessions are signed cookies,
sign-in throttling lives in the database) and every request is one short transaction.

Behind a TLS proxy, run `pipeline serve --forwarded-allow-ips ADDRESS` (uvicorn's trusted
proxies): a request the proxy forwarded as https then gets its cookies marked `Secure`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
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

from pipeline.core.clock import utcnow
from pipeline.core.errors import StorageError
from pipeline.core.output import short_time
from pipeline.desk import (
    api,
    api_entities,
    apidocs,
    atom,
    entity_pages,
    login,
    pages,
    possible,
    story_pages,
)
from pipeline.desk.auth import DeskAuth
from pipeline.desk.render import SignInRequired
from pipeline.desk.throttle import SignInGuard
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
    repository: Repository,
    *,
    secret_key: str,
    auth_token: str | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> FastAPI:
    app = FastAPI(
        title="sanctions-watch read API",
        version="1",
        description="Flags, articles, feeds and entities, read-only. Authenticate with "
        "`Authorization: Bearer <token>` (`pipeline users token NAME`, or the --auth-token).",
        docs_url=None,  # FastAPI's Swagger UI loads from a CDN: apidocs serves it locally
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.repository = repository
    atom.install_token_redactor()  # feed readers put their token in the URL
    app.state.auth = DeskAuth(repository, auth_token)
    app.state.sign_in_guard = SignInGuard(repository)
    app.state.clock = clock  # sign-in throttling reads it (tests move time on)
    app.state.templates = _templates()
    for router in (api.router, api_entities.router, apidocs.router, atom.router, login.router):
        app.include_router(router)
    for router in (pages.router, story_pages.router, entity_pages.router, possible.router):
        app.include_router(router)
    app.mount(apidocs.SWAGGER_STATIC, StaticFiles(directory=apidocs.SWAGGER_FILES), name="swagger")
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret_key,
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        same_site="lax",
    )
    app.add_middleware(_SecurityHeaders)
    _add_service_routes(app, repository)
    _add_error_handlers(app)

    return app


def _add_service_routes(app: FastAPI, repository: Repository) -> None:
    """/healthz and /metrics: for load balancers and Prometheus, outside the OpenAPI."""

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


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SignInRequired)
    async def sign_in(request: Request, _exc: Exception) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)

    @app.exception_handler(StorageError)
    async def storage_down(request: Request, exc: Exception) -> Response:
        message = "the database is unavailable; try again shortly"
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": message}, status_code=503)
        return PlainTextResponse(message, status_code=503)


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
    """Adds SECURITY_HEADERS to every response that does not set its own (a plain ASGI
    middleware: no body buffering), and marks cookies `Secure` on an https request (direct, or
    forwarded by a trusted proxy: uvicorn's --forwarded-allow-ips sets the scheme)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        secure = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, _secure_cookie(value) if secure and name == b"set-cookie" else value)
                    for name, value in message.get("headers", [])
                ]
                present = {name.lower() for name, _ in headers}
                headers += [item for item in SECURITY_HEADERS.items() if item[0] not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _secure_cookie(value: bytes) -> bytes:
    return value if b"; secure" in value.lower() else value + b"; Secure"
