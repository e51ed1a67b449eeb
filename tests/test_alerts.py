"""Alerts end to end: real flags from a real run, a real webhook receiver and a real SMTP
server on 127.0.0.1, the delivery table on SQLite and PostgreSQL. Time is an injected clock:
no test waits for a backoff."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiosmtpd.controller import Controller
from typer.testing import CliRunner

from pipeline.alerts.dispatcher import AlertDispatcher, DispatchReport
from pipeline.cli.app import app
from pipeline.core.clock import utcnow
from pipeline.core.config import load_config
from storage.db import Database
from storage.repository import Repository
from tests.conftest import run_once
from tests.site import Page, Site, article_html, rss
from tests.test_ingest_e2e import NDC_STORY

SECRET = "s3cret"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class PostServer:
    """An HTTP server on 127.0.0.1 taking POSTs that can be down (port closed) or answer a
    chosen status; `record` keeps what a test needs of each POST."""

    def __init__(self) -> None:
        self.port = free_port()
        self.status = 200
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def up(self, status: int = 200) -> None:
        self.status = status
        if self._server is None:
            self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
            self._server.daemon_threads = True
            threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def record(self, status: int, request: BaseHTTPRequestHandler, body: bytes) -> None:
        raise NotImplementedError

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = server.status
                with server._lock:
                    server.record(status, self, body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


class Receiver(PostServer):
    """A webhook receiver on 127.0.0.1 that can be down (port closed) or answer a status."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[tuple[int, dict[str, str], bytes]] = []  # (answered, headers, body)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def record(self, status: int, request: BaseHTTPRequestHandler, body: bytes) -> None:
        self.received.append((status, dict(request.headers.items()), body))

    def accepted(self) -> list[dict[str, Any]]:
        """Bodies of the requests answered 2xx."""
        with self._lock:
            return [json.loads(body) for status, _, body in self.received if status < 300]


class Mailbox:
    """aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.down()


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def flagged_run(site: Site, make_config: Callable[..., Path], alerts: dict[str, Any]) -> Path:
    """A real run that stores one article with several flags, alerts configured."""
    site.add("/ndc", Page(article_html("US sanctions Pakistani missile body", NDC_STORY)))
    feed = rss([{"title": "US sanctions Pakistani missile body", "link": site.url("/ndc")}])
    site.add("/feed.xml", Page(feed, content_type="application/rss+xml"))
    config = make_config([{"name": "Test", "url": site.url("/feed.xml")}], alerts=alerts)
    run_once(config)
    return config


def set_alerts(config: Path, alerts: dict[str, Any]) -> None:
    document = yaml.safe_load(config.read_text())
    config.write_text(yaml.safe_dump({**document, "alerts": alerts}))


def dispatch(config: Path, clock: Clock, *, flush: bool = False) -> DispatchReport:
    """One round by a fresh dispatcher over a fresh connection: a restarted worker."""
    settings = load_config(config)
    db = Database(settings.database)
    try:
        dispatcher = AlertDispatcher(settings.alerts, Repository(db), clock=clock)
        return asyncio.run(dispatcher.dispatch(flush=flush))
    finally:
        db.dispose()


def deliveries(config: Path) -> list[dict[str, Any]]:
    result = CliRunner().invoke(
        app, ["--config", str(config), "alerts", "list", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def flag_ids(config: Path) -> set[int]:
    result = CliRunner().invoke(app, ["--config", str(config), "flags", "list", "--format", "json"])
    assert result.exit_code == 0, result.output
    return {flag["id"] for flag in json.loads(result.stdout)}


def test_webhook_survives_a_receiver_that_is_down_then_failing(
    site: Site, make_config: Callable[..., Path], receiver: Receiver
) -> None:
    hook = {"name": "hook", "url": receiver.url, "secret": SECRET}
    config = flagged_run(site, make_config, {"webhooks": [hook]})  # receiver down: refused
    flags = flag_ids(config)
    assert len(flags) >= 2
    rows = deliveries(config)
    assert {row["flag_id"] for row in rows} == flags
    assert all(row["status"] == "pending" and row["attempts"] == 1 for row in rows)
    assert all("ConnectError" in row["last_error"] for row in rows)

    clock = Clock()
    receiver.up(status=503)
    assert dispatch(config, clock).sent == {}  # the backoff (>= 24 s) has not passed yet
    assert receiver.received == []
    clock.advance(hours=2)
    report = dispatch(config, clock)
    assert report.failed_attempts == {"hook": len(flags)} and report.sent == {}
    assert {(row["attempts"], row["last_http_status"]) for row in deliveries(config)} == {(2, 503)}

    receiver.status = 200
    clock.advance(hours=2)
    assert dispatch(config, clock).sent == {"hook": len(flags)}
    clock.advance(hours=2)
    assert dispatch(config, clock).sent == {}  # nothing is sent twice

    accepted = receiver.accepted()
    assert sorted(body["id"] for body in accepted) == sorted(flags)  # once per flag
    assert {body["delivery_id"] for body in accepted} == {f"hook:{flag}" for flag in flags}
    assert all(len(body["snippet"]) >= 40 and body["feed"] == "Test" for body in accepted)
    for _answered, headers, body in receiver.received:
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert headers["X-Signature"] == expected
    rows = deliveries(config)
    assert {(row["status"], row["attempts"], row["last_http_status"]) for row in rows} == {
        ("sent", 3, 200)
    }
    assert all(row["sent_at"] for row in rows)


def test_client_error_is_a_failed_attempt_and_gives_up_after_max_attempts(
    site: Site, make_config: Callable[..., Path], receiver: Receiver
) -> None:
    receiver.up(status=404)
    alerts = {"webhooks": [{"name": "hook", "url": receiver.url}], "max_attempts": 2}
    config = flagged_run(site, make_config, alerts)
    assert {(row["status"], row["last_http_status"]) for row in deliveries(config)} == {
        ("pending", 404)
    }
    clock = Clock()
    clock.advance(hours=2)
    dispatch(config, clock)
    rows = deliveries(config)
    assert {(row["status"], row["attempts"]) for row in rows} == {("failed", 2)}

    clock.advance(hours=2)
    dispatch(config, clock)  # failed rows are not retried on their own
    assert len(receiver.received) == 2 * len(rows)

    retried = CliRunner().invoke(app, ["--config", str(config), "alerts", "retry"])
    assert retried.exit_code == 0, retried.output
    noun = "delivery" if len(rows) == 1 else "deliveries"
    assert f"{len(rows)} {noun} queued again" in retried.stdout
    receiver.status = 204
    clock.advance(hours=2)
    assert dispatch(config, clock).sent == {"hook": len(rows)}
    assert {row["status"] for row in deliveries(config)} == {"sent"}


def test_failing_webhook_never_holds_back_email_or_another_webhook(
    site: Site,
    make_config: Callable[..., Path],
    receiver: Receiver,
    mailbox: tuple[Mailbox, int],
) -> None:
    box, smtp_port = mailbox
    receiver.up(status=200)
    alerts = {
        "webhooks": [
            {"name": "broken", "url": f"http://127.0.0.1:{free_port()}/closed"},
            {"name": "good", "url": receiver.url},
        ],
        "email": {
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_port,
            "sender": "alerts@example.org",
            "to": ["desk@example.org"],
        },
    }
    config = flagged_run(site, make_config, alerts)  # --once sends the digest at once
    flags = flag_ids(config)

    by_channel: dict[str, set[str]] = {}
    for row in deliveries(config):
        by_channel.setdefault(row["channel"], set()).add(row["status"])
    assert by_channel == {"broken": {"pending"}, "good": {"sent"}, "email": {"sent"}}
    assert sorted(body["id"] for body in receiver.accepted()) == sorted(flags)
    assert len(box.messages) == 1
    digest = box.messages[0]
    assert digest["To"] == "desk@example.org"
    assert digest["Subject"] == f"sanctions-watch: {len(flags)} new flag(s)"
    text = digest.get_payload(decode=True).decode()
    assert "National Development Complex" in text and site.url("/ndc") in text
    assert all(f"#{flag} " in text for flag in flags)


def test_email_digest_waits_for_its_interval_unless_flushed(
    site: Site, make_config: Callable[..., Path], mailbox: tuple[Mailbox, int]
) -> None:
    box, smtp_port = mailbox
    email = {
        "smtp_port": smtp_port,
        "sender": "alerts@example.org",
        "to": ["desk@example.org", "chief@example.org"],
        "digest_interval": "1h",
    }
    # SMTP down during the run: a failed attempt, retried later.
    config = flagged_run(site, make_config, {"email": {**email, "smtp_port": free_port()}})
    assert {(row["status"], row["attempts"]) for row in deliveries(config)} == {("pending", 1)}
    set_alerts(config, {"email": email})  # the SMTP server is back

    clock = Clock()
    clock.advance(minutes=30)  # retry due, but the oldest flag has not waited 1h yet
    dispatch(config, clock)
    assert box.messages == []
    clock.advance(minutes=31)
    assert dispatch(config, clock).sent == {"email": len(flag_ids(config))}
    assert len(box.messages) == 1
    assert box.messages[0]["To"] == "desk@example.org, chief@example.org"
    clock.advance(hours=3)
    dispatch(config, clock, flush=True)
    assert len(box.messages) == 1  # nothing left to send


def test_flags_older_than_a_channel_are_not_sent(
    site: Site, make_config: Callable[..., Path], receiver: Receiver
) -> None:
    receiver.up()
    config = flagged_run(site, make_config, {})
    assert flag_ids(config)
    set_alerts(config, {"webhooks": [{"name": "hook", "url": receiver.url}]})

    assert dispatch(config, Clock(), flush=True).enqueued == 0
    assert deliveries(config) == [] and receiver.received == []


def test_a_claimed_delivery_is_not_claimed_again_until_its_lease_ends(
    site: Site, make_config: Callable[..., Path], receiver: Receiver
) -> None:
    config = flagged_run(site, make_config, {"webhooks": [{"name": "hook", "url": receiver.url}]})
    repository = Repository(Database(load_config(config).database))
    try:
        now = utcnow() + timedelta(hours=2)
        lease = now + timedelta(minutes=5)
        first = repository.claim_deliveries("hook", now=now, lease_until=lease, limit=100)
        assert len(first) == len(flag_ids(config))
        assert repository.claim_deliveries("hook", now=now, lease_until=lease, limit=100) == []
        # A dispatcher that died mid-send: its rows are due again after the lease.
        later = lease + timedelta(seconds=1)
        again = repository.claim_deliveries("hook", now=later, lease_until=later, limit=100)
        assert {due.id for due in again} == {due.id for due in first}
    finally:
        repository.db.dispose()
