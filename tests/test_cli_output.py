"""Output that survives a pipe: tables one line per row (cut to $COLUMNS only when it is set),
URLs whole, the why as readable lines, CSV with the JSON's fields, counted nouns in the right
number, and the small traps (`--by`, reopening with `new`, the API's `since`)."""

from __future__ import annotations

import csv
import getpass
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from pipeline.cli.app import app
from tests.desk import running_desk, seed
from tests.site import serve


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """feeds.yaml over a database the real pipeline filled: three flagged stories."""
    directory = tmp_path_factory.mktemp("seeded")
    with serve() as site:
        seed(site, f"sqlite:///{directory / 'pipeline.db'}", directory)
        yield directory / "feeds.yaml"


def cli(config: Path, *args: str, columns: str | None = None) -> str:
    env = {"COLUMNS": columns} if columns else {}
    result = CliRunner().invoke(app, ["--config", str(config), *args], env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


def as_json(config: Path, *args: str) -> Any:
    return json.loads(cli(config, *args, "--format", "json"))


def test_csv_carries_the_json_fields(seeded: Path) -> None:
    flags = as_json(seeded, "flags", "list")
    rows = list(csv.DictReader(io.StringIO(cli(seeded, "flags", "list", "--format", "csv"))))
    assert len(rows) == len(flags) >= 3
    assert set(rows[0]) == set(flags[0])
    assert {"score", "rule", "duplicates_count"} <= set(rows[0])
    by_id = {int(row["id"]): row for row in rows}
    for flag in flags:
        assert by_id[flag["id"]]["rule"] == flag["rule"]
        assert int(by_id[flag["id"]]["duplicates_count"]) == flag["duplicates_count"]


def test_piped_tables_cut_nothing_and_columns_bound_the_width(seeded: Path) -> None:
    flags = as_json(seeded, "flags", "list")
    titles = {flag["title"] for flag in flags}
    piped = cli(seeded, "flags", "list")
    assert all(title in piped for title in titles)  # not cut without a terminal width
    narrow = cli(seeded, "flags", "list", columns="64")
    assert max(len(line) for line in narrow.splitlines()) <= 64
    assert "…" in narrow
    assert piped.splitlines()[0] == f"{len(flags)} flags"
    assert len(piped.splitlines()) == 3 + len(flags)  # title, header, rule: one line a row


def test_flag_show_keeps_urls_whole_and_the_why_readable(seeded: Path) -> None:
    flag = max(as_json(seeded, "flags", "list"), key=lambda f: f["duplicates_count"])
    shown = cli(seeded, "flags", "show", str(flag["id"]), columns="40").splitlines()
    assert f"           url: {flag['url']}" in shown
    assert any(line.startswith("       also at: http://127.0.0.1:") for line in shown)
    why = [line for line in shown if line.startswith(("           why: ", "              : "))]
    assert why[0].startswith("           why: alias: ")
    assert not any("{" in line for line in why)  # lines, not JSON
    assert any(line.startswith("              : rule: ") for line in why)
    document = "\n".join(shown[shown.index("") :])
    assert f"[[{flag['matched']}]]" in document  # mentions marked in a pipe


def test_counted_nouns(seeded: Path) -> None:
    assert cli(seeded, "feeds", "list").startswith("1 feed (")
    assert cli(seeded, "alerts", "list").startswith("0 deliveries\n")
    assert cli(seeded, "alerts", "retry") == "0 deliveries queued again\n"
    assert cli(seeded, "users", "list").startswith("0 users\n")


def test_rescan_prints_its_summary_and_nothing_before(seeded: Path) -> None:
    assert cli(seeded, "rescan") == "rescan done: 0 new flags\n"


def test_review_defaults_to_the_login_name_and_new_reopens(seeded: Path) -> None:
    flag_id = str(as_json(seeded, "flags", "list")[-1]["id"])
    assert cli(seeded, "flags", "review", flag_id, "--status", "dismissed") == (
        f"flag {flag_id}: dismissed\n"
    )
    shown = as_json(seeded, "flags", "show", flag_id)
    assert (shown["status"], shown["reviewed_by"]) == ("dismissed", getpass.getuser())
    cli(seeded, "flags", "review", flag_id, "--status", "new", "--by", "lead")
    reopened = as_json(seeded, "flags", "show", flag_id)
    assert (reopened["status"], reopened["reviewed_by"]) == ("new", "lead")
    assert [change["to_status"] for change in reopened["history"]] == ["dismissed", "new"]


def test_the_api_since_takes_the_cli_grammar(tmp_path: Path) -> None:
    with running_desk(f"sqlite:///{tmp_path / 'desk.db'}") as desk:
        headers = {"Authorization": f"Bearer {desk.api_token}"}
        span = httpx.get(f"{desk.base}/api/flags?since=2d", headers=headers, timeout=10)
        bad = httpx.get(f"{desk.base}/api/flags?since=yesterday", headers=headers, timeout=10)
    assert span.status_code == 200 and span.json()["items"] == []
    assert bad.status_code == 400
    assert bad.json()["detail"] == (
        "since: 'yesterday' is not an ISO date (2025-01-31) or a span (2d, 12h)"
    )
