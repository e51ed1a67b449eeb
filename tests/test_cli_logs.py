"""Logs and the desk's process: failed polls at WARNING, successes at INFO, JSON meaning JSON
(uvicorn's lines too), a busy port as one line and exit 1, a hint when nobody can sign in, and
`users add` without a terminal saying how to give the password."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml
from typer.testing import CliRunner

from pipeline.cli.app import app
from tests.site import Page, rss, serve

NO_USER = (
    "no desk user exists and no --auth-token is set: nobody can sign in "
    "(add one with `pipeline users add NAME`)"
)


def write_config(directory: Path, feeds: list[dict[str, str]]) -> Path:
    config = {
        "database": f"sqlite:///{directory / 'pipeline.db'}",
        "fetch": {"allow_private_addresses": True, "extract_workers": 0, "timeout": 5},
        "feeds": feeds,
    }
    path = directory / "feeds.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def pipeline(config: Path, *args: str, **options: Any) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "pipeline", "--config", str(config), *args]
    return subprocess.Popen(
        command, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **options
    )


def test_failed_polls_warn_and_successes_inform(tmp_path: Path) -> None:
    with serve() as site:
        site.add("/good.xml", Page(rss([]), content_type="application/rss+xml"))
        site.add("/broken.xml", Page(b"oops", status=500))
        config = write_config(
            tmp_path,
            [
                {"name": "Good", "url": site.url("/good.xml")},
                {"name": "Broken", "url": site.url("/broken.xml")},
            ],
        )
        result = CliRunner().invoke(
            app, ["--config", str(config), "--log-format", "json", "run", "--once"]
        )
    assert result.exit_code == 0, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines()]  # every line is JSON
    levels = {
        record["message"].split(":")[0]: record["level"]
        for record in records
        if "outcome" in record
    }
    assert levels == {"Good": "info", "Broken": "warning"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_serve_logs_json_warns_without_users_and_refuses_a_busy_port(tmp_path: Path) -> None:
    config = write_config(tmp_path, [])
    assert CliRunner().invoke(app, ["--config", str(config), "db", "upgrade"]).exit_code == 0
    port = free_port()
    desk = pipeline(config, "--log-format", "json", "serve", "--port", str(port))
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
                break
            except httpx.TransportError:
                assert desk.poll() is None and time.monotonic() < deadline, "the desk did not start"
                time.sleep(0.2)
        busy = pipeline(config, "serve", "--port", str(port))
        out, err = busy.communicate(timeout=120)
    finally:
        desk.terminate()
        _out, desk_log = desk.communicate(timeout=30)

    assert (busy.returncode, out) == (1, "")
    assert (
        err.splitlines()[-1] == f"error: cannot listen on 127.0.0.1:{port}: Address already in use"
    )
    assert sum(line.startswith("error: ") for line in err.splitlines()) == 1
    records = [json.loads(line) for line in desk_log.splitlines()]  # uvicorn's lines included
    assert {"uvicorn.error", "uvicorn.access"} <= {record["logger"] for record in records}
    assert any(record["level"] == "warning" and record["message"] == NO_USER for record in records)
    assert not any("color_message" in record for record in records)  # no ANSI copies


def test_users_add_without_a_terminal_says_how(tmp_path: Path) -> None:
    config = write_config(tmp_path, [])
    process = pipeline(
        config, "users", "add", "alice", stdin=subprocess.DEVNULL, start_new_session=True
    )
    out, err = process.communicate(timeout=120)
    assert (process.returncode, out) == (2, "")
    assert err == (
        "error: no terminal to ask for the password: pipe it in with --password-stdin "
        "(printf '%s\\n' \"$PASSWORD\" | pipeline users add alice --password-stdin)\n"
    )
    assert not (tmp_path / "pipeline.db").exists()
