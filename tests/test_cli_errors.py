"""Bad input to the CLI: its exact one line on stderr, its exit code (0/1/2, and 3 for `feeds
stale` finding stale feeds), nothing on stdout and nothing created on disk. Through typer's
runner, and as `python -m pipeline` subprocesses where the process's own exit code matters."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli.app import app
from pipeline.cli.usage import STALE_FOUND

UNREACHABLE = "postgresql+psycopg://sanctions@127.0.0.1:1/sanctions"


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def write_config(directory: Path, body: str = "") -> Path:
    path = directory / "feeds.yaml"
    path.write_text(f"database: sqlite:///{directory / 'pipeline.db'}\n{body}", encoding="utf-8")
    return path


# ---- usage errors ------------------------------------------------------------------------------

USAGE = {
    "status": (
        ["flags", "list", "--status", "bogus"],
        "error: invalid value for '--status': 'bogus' is not one of 'new', 'relevant', "
        "'dismissed', 'all' (see `root flags list --help`)",
    ),
    "flag id": (
        ["flags", "show", "abc"],
        "error: invalid value for 'ID': not a whole number (see `root flags show --help`)",
    ),
    "format": (
        ["stats", "--format", "xml"],
        "error: invalid value for '--format': 'xml' is not one of 'table', 'json', 'csv' "
        "(see `root stats --help`)",
    ),
    "log format": (
        ["--log-format", "xml", "stats"],
        "error: invalid value for '--log-format': 'xml' is not one of 'text', 'json' "
        "(see `root --help`)",
    ),
    "command": (["nope"], "error: no such command 'nope' (see `root --help`)"),
    "missing option": (
        ["flags", "review", "1"],
        "error: missing option '--status'. Choose from: relevant, dismissed, new "
        "(see `root flags review --help`)",
    ),
    "since": (
        ["flags", "list", "--since", "yesterday"],
        "error: --since: 'yesterday' is not an ISO date (2025-01-31) or a span (2d, 12h)",
    ),
    "older": (
        ["feeds", "stale", "--older", "2x"],
        "error: --older: '2x' is not a duration (use 90s, 15m, 2h or 1d)",
    ),
}


@pytest.mark.parametrize("case", USAGE)
def test_usage_error_is_one_line_and_exit_2(tmp_path: Path, case: str) -> None:
    args, line = USAGE[case]
    config = write_config(tmp_path)
    code, out, err = cli("--config", str(config), *args)
    assert (code, out, err) == (2, "", line + "\n")
    assert not (tmp_path / "pipeline.db").exists()


def test_usage_error_as_a_process_is_one_line_and_exit_2(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "--config", str(config), "flags", "show", "abc"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        "error: invalid value for 'ID': not a whole number "
        "(see `python -m pipeline flags show --help`)\n"
    )
    assert not (tmp_path / "pipeline.db").exists()


# ---- config validation -------------------------------------------------------------------------

FEED = "feeds:\n  - name: A\n    url: http://127.0.0.1:9/feed.xml\n"


def config_errors(tmp_path: Path, body: str) -> list[str]:
    config = write_config(tmp_path, body)
    code, out, err = cli("--config", str(config), "feeds", "check")
    assert (code, out) == (2, "")
    assert not (tmp_path / "pipeline.db").exists()
    prefix = f"error: {config}: "
    assert all(line.startswith(prefix) for line in err.splitlines()), err
    return [line.removeprefix(prefix) for line in err.splitlines()]


def test_every_error_of_a_file_in_one_run(tmp_path: Path) -> None:
    body = "fetch:\n  concurency: 3\n  timout: 5\nschedule:\n  jitter: 3\n"
    assert config_errors(tmp_path, body) == [
        "fetch.concurency: unknown key (check the spelling; see docs/operating.md)",
        "fetch.timout: unknown key (check the spelling; see docs/operating.md)",
        "schedule.jitter: 3 must be at most 1",
    ]


CROSS_FIELD = {
    "intervals": (
        "schedule:\n  min_interval: 2h\n  max_interval: 1h\n",
        "schedule.min_interval: '2h' must be at most schedule.max_interval ('1h')",
    ),
    "lease": (
        "schedule:\n  lease: 2s\n",
        "schedule.lease: '2s' must be at least 3 x schedule.tick ('5s'), or a live worker's "
        "feeds are taken over",
    ),
}


@pytest.mark.parametrize("case", CROSS_FIELD)
def test_values_fine_alone_but_not_together(tmp_path: Path, case: str) -> None:
    body, line = CROSS_FIELD[case]
    assert config_errors(tmp_path, body) == [line]


ONE_WORDING = {
    "negative number": ("fetch:\n  concurrency: -1\n", "fetch.concurrency: -1 must be at least 1"),
    "negative duration": (
        f"{FEED}    interval: -5m\n",
        "feeds[0].interval: '-5m' must be longer than zero",
    ),
    "zero duration": ("schedule:\n  tick: 0\n", "schedule.tick: 0 must be longer than zero"),
    "relative url": (
        "feeds:\n  - {name: a, url: notaurl}\n",
        "feeds[0].url: 'notaurl' is not an http(s) URL",
    ),
    "ftp url": (
        "feeds:\n  - {name: a, url: 'ftp://127.0.0.1/f'}\n",
        "feeds[0].url: 'ftp://127.0.0.1/f' is not an http(s) URL",
    ),
    "not a number": (
        "fetch:\n  concurrency: many\n",
        "fetch.concurrency: 'many' is not a whole number",
    ),
    "not a bool": (
        "fetch:\n  allow_private_addresses: maybe\n",
        "fetch.allow_private_addresses: 'maybe' is not true or false",
    ),
    "kind": (
        f"{FEED}    kind: rss\n",
        "feeds[0].kind: 'rss' is not one of 'feed' or 'sitemap'",
    ),
    "missing": ("feeds:\n  - name: x\n", "feeds[0].url: missing (this key is required)"),
}


@pytest.mark.parametrize("case", ONE_WORDING)
def test_one_wording_naming_key_and_value(tmp_path: Path, case: str) -> None:
    body, line = ONE_WORDING[case]
    (error,) = config_errors(tmp_path, body)
    assert error == line
    assert "Input should" not in error and "Field required" not in error


def test_missing_watchlist_names_the_key_and_the_resolved_path(tmp_path: Path) -> None:
    config = write_config(tmp_path, "watchlist: lists/nope.yaml\n")
    code, out, err = cli("--config", str(config), "feeds", "check")
    assert (code, out) == (2, "")
    assert err == f"error: {config}: watchlist: {tmp_path / 'lists/nope.yaml'}: file not found\n"


# ---- exit codes --------------------------------------------------------------------------------


def test_stale_found_and_database_unreachable_have_different_codes(tmp_path: Path) -> None:
    unreachable = tmp_path / "feeds.yaml"
    unreachable.write_text(f"database: {UNREACHABLE}\n{FEED}", encoding="utf-8")
    code, out, err = cli("--config", str(unreachable), "feeds", "stale")
    assert code == 1 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "127.0.0.1:1" in err

    # "stale found" (asserted in test_schedule) is a code of its own, for cron.
    assert STALE_FOUND not in (0, 1, 2)
