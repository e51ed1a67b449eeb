"""`pipeline serve`: the analysts' desk (review queue, flag pages, read API, /metrics)."""

from __future__ import annotations

import logging
import socket
from typing import Annotated

import typer

from pipeline.cli.context import EXIT_FAILURE, EXIT_USAGE, fail, guard, session

MIN_AUTH_TOKEN_LENGTH = 16
log = logging.getLogger(__name__)


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on; loopback by default.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8080,
    auth_token: Annotated[
        str | None,
        typer.Option(
            "--auth-token",
            envvar="PIPELINE_AUTH_TOKEN",
            help="A shared token: whoever presents it acts as the reviewer 'team'.",
        ),
    ] = None,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            "--forwarded-allow-ips",
            envvar="FORWARDED_ALLOW_IPS",
            help="Addresses of a trusted TLS proxy (comma-separated, or '*'): its "
            "X-Forwarded-For/-Proto are believed, so sign-in throttling sees the real client "
            "and cookies carry Secure on https.",
        ),
    ] = None,
) -> None:
    """The analysts' desk: the review queue, flag pages, feeds, the read API and /metrics."""
    import uvicorn

    from pipeline.desk.app import create_app
    from pipeline.desk.auth import resolve_secret_key

    if auth_token is not None and len(auth_token) < MIN_AUTH_TOKEN_LENGTH:
        fail(f"--auth-token: use at least {MIN_AUTH_TOKEN_LENGTH} characters", EXIT_USAGE)
    state = session(ctx)
    repository = guard(state.repository)
    try:
        secret_key = resolve_secret_key(state.config_file)
    except OSError as exc:
        fail(f"cannot read or create the session secret key: {exc}", EXIT_FAILURE)
    application = create_app(repository, secret_key=secret_key, auth_token=auth_token)
    if not guard(repository.list_users) and auth_token is None:
        log.warning(
            "no desk user exists and no --auth-token is set: nobody can sign in "
            "(add one with `pipeline users add NAME`)"
        )
    listener = _listen(host, port)  # bound here: a busy port is one line, not a traceback
    # log_config=None: uvicorn's lines go through the CLI's handler (--log-format json too).
    config = uvicorn.Config(
        application,
        server_header=False,
        log_config=None,
        proxy_headers=forwarded_allow_ips is not None,
        forwarded_allow_ips=forwarded_allow_ips or "",
    )
    uvicorn.Server(config).run(sockets=[listener])


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}", EXIT_FAILURE)
    return listener


COMMANDS = (serve,)
