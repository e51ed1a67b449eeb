"""Alerts through Apprise to receivers on loopback: json:// and form:// to a real HTTP server,
mailto:// to aiosmtpd. At least once per flag and channel, retried after a receiver that was
down, one failing channel never holding back another, and secrets from the environment that
never show in errors, logs or `alerts list`. Time is an injected clock: no test waits."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from typer.testing import CliRunner

from pipeline.alerts.apprise_sender import ChannelURLError, expand
from pipeline.cli.app import app
from tests.site import Site
from tests.test_alerts import (
    Clock,
    Mailbox,
    PostServer,
    deliveries,
    dispatch,
    flag_ids,
    flagged_run,
)
from tests.test_alerts import mailbox as mailbox  # the aiosmtpd fixture, re-exported

TOKEN = "tok-9f2c-s3cr3t-value"


class Endpoint(PostServer):
    """An HTTP receiver on 127.0.0.1 that keeps path, content type and body of each POST; it
    can be down (port closed) or answer a chosen status."""

    def __init__(self) -> None:
        super().__init__()
        self.posts: list[tuple[int, str, str, bytes]] = []  # (answered, path, type, body)

    def record(self, status: int, request: BaseHTTPRequestHandler, body: bytes) -> None:
        self.posts.append((status, request.path, request.headers["Content-Type"], body))

    def accepted(self) -> list[tuple[str, str, bytes]]:
        with self._lock:
            return [(path, kind, body) for status, path, kind, body in self.posts if status < 300]


class Seen(logging.Handler):
    """Every record that reaches the root logger, i.e. the application's log (pytest's own
    caplog also hooks loggers that do not propagate, so it would see more than the log)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(f"{record.name} {record.getMessage()}")


@pytest.fixture
def application_log() -> Iterator[Seen]:
    root, seen = logging.getLogger(), Seen()
    level = root.level
    root.addHandler(seen)
    root.setLevel(logging.DEBUG)
    yield seen
    root.removeHandler(seen)
    root.setLevel(level)


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    running = Endpoint()
    yield running
    running.down()


@pytest.fixture
def second() -> Iterator[Endpoint]:
    running = Endpoint()
    yield running
    running.down()


def test_json_channel_down_then_up_delivers_each_flag_once(
    site: Site,
    make_config: Callable[..., Path],
    endpoint: Endpoint,
    monkeypatch: pytest.MonkeyPatch,
    application_log: Seen,
) -> None:
    seen = application_log
    monkeypatch.setenv("HOOK_TOKEN", TOKEN)
    url = f"json://127.0.0.1:{endpoint.port}/hook/${{HOOK_TOKEN}}"
    config = flagged_run(site, make_config, {"apprise": [{"name": "chat", "url": url}]})
    flags = flag_ids(config)
    assert len(flags) >= 2
    rows = deliveries(config)  # the receiver was down: one failed attempt each, kept pending
    assert {(row["status"], row["attempts"]) for row in rows} == {("pending", 1)}
    assert all(row["last_error"].startswith("apprise failure:") for row in rows)

    clock = Clock()
    endpoint.up()
    assert dispatch(config, clock).sent == {}  # the backoff has not passed
    clock.advance(hours=2)
    assert dispatch(config, clock).sent == {"chat": len(flags)}
    clock.advance(hours=2)
    assert dispatch(config, clock).sent == {}  # nothing twice

    accepted = endpoint.accepted()
    assert len(accepted) == len(flags)
    assert {path for path, _, _ in accepted} == {f"/hook/{TOKEN}"}  # expanded when sending
    bodies = [json.loads(body) for _, kind, body in accepted if kind == "application/json"]
    assert sorted(body["message"].rsplit("delivery chat:", 1)[1] for body in bodies) == sorted(
        str(flag) for flag in flags
    )
    assert all(body["title"].startswith("sanctions-watch: ") for body in bodies)
    assert {row["status"] for row in deliveries(config)} == {"sent"}

    # The secret never shows: not in the deliveries' errors, the listing or any log line.
    listing = CliRunner().invoke(app, ["--config", str(config), "alerts", "list"])
    assert listing.exit_code == 0, listing.output
    assert TOKEN not in listing.stdout and TOKEN not in json.dumps(deliveries(config))
    assert seen.records and all(TOKEN not in record for record in seen.records)


def test_form_channel_and_a_failing_channel_beside_it(
    site: Site, make_config: Callable[..., Path], endpoint: Endpoint, second: Endpoint
) -> None:
    endpoint.up(status=500)
    second.up()
    channels = [
        {"name": "broken", "url": f"json://127.0.0.1:{endpoint.port}/hook"},
        {"name": "form", "url": f"form://127.0.0.1:{second.port}/form"},
    ]
    config = flagged_run(site, make_config, {"apprise": channels, "max_attempts": 2})
    flags = flag_ids(config)
    by_channel: dict[str, set[str]] = {}
    for row in deliveries(config):
        by_channel.setdefault(row["channel"], set()).add(row["status"])
    assert by_channel == {"broken": {"pending"}, "form": {"sent"}}
    forms = [parse_qs(body.decode()) for _, _, body in second.accepted()]
    assert len(forms) == len(flags)
    assert all(form["title"][0].startswith("sanctions-watch: ") for form in forms)

    clock = Clock()
    clock.advance(hours=2)
    report = dispatch(config, clock)
    assert report.failed_attempts == {"broken": len(flags)} and report.sent == {}
    assert {row["status"] for row in deliveries(config) if row["channel"] == "broken"} == {"failed"}
    assert len(second.accepted()) == len(flags)  # the form channel got each flag once


def test_mailto_channel_to_aiosmtpd(
    site: Site, make_config: Callable[..., Path], mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    url = f"mailto://127.0.0.1:{port}?from=alerts@example.org&to=desk@example.org&mode=insecure"
    config = flagged_run(site, make_config, {"apprise": [{"name": "mail", "url": url}]})
    flags = flag_ids(config)
    assert {row["status"] for row in deliveries(config)} == {"sent"}
    assert len(box.messages) == len(flags)
    subjects = sorted(message["Subject"] for message in box.messages)
    assert all(subject.startswith("sanctions-watch: ") for subject in subjects)
    assert any("National Development Complex" in subject for subject in subjects)
    assert {message["To"] for message in box.messages} == {"desk@example.org"}


def test_a_missing_variable_is_a_clear_failed_attempt(
    site: Site, make_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    channel = {"name": "chat", "url": "ntfy://${NOT_SET_ANYWHERE}@127.0.0.1/topic"}
    config = flagged_run(site, make_config, {"apprise": [channel]})
    errors = {row["last_error"] for row in deliveries(config)}
    assert errors == {"channel URL: ${NOT_SET_ANYWHERE} is not set in the environment"}


def test_expand_keeps_placeholders_for_redaction() -> None:
    expanded = expand("tgram://${BOT}/${CHAT}", {"BOT": "123:abc/def", "CHAT": "42"})
    assert expanded.url == "tgram://123:abc/def/42"
    text = "error sending to tgram://123:abc/def/42 (123%3Aabc%2Fdef)"
    assert expanded.redact(text) == "error sending to tgram://${BOT}/${CHAT} (${BOT})"
    with pytest.raises(ChannelURLError, match=r"\$\{GONE\} is not set"):
        expand("json://host/${GONE}", {})
