"""Every malformed feeds.yaml: one clear line on stderr, nothing on stdout, exit code 2, for
`feeds check` and for `run --once` alike, and the database is never touched."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli.app import app

FEED = "  - name: A feed\n    url: http://127.0.0.1:9/feed.xml\n"
DATABASE = "database: sqlite:///{directory}/pipeline.db\n"

# Billion laughs in YAML: 9 * 10**3 strings behind four aliases (nine levels hang the repr of
# the value in the error line: see test_yaml_alias_bomb_error_line_is_short).
YAML_BOMB = (
    "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nfeeds: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
)
MAX_LINE = 400  # "one clear line", even for a hostile value

# case -> (feeds.yaml text or bytes, a fragment the error line must contain)
CASES: dict[str, tuple[str | bytes | None, str]] = {
    "file-missing": (None, "file not found"),
    "path-is-a-directory": ("<directory>", "cannot read"),
    "not-utf8": (b"feeds:\n  - name: Caf\xe9\n    url: http://127.0.0.1:9/\n", "cannot read"),
    "yaml-syntax-error": ("feeds: [\n  - name: x\n", "YAML syntax error (line"),
    "tab-indentation": ("feeds:\n\t- name: x\n", "YAML syntax error"),
    "top-level-list": (b"- name: x\n", "the top level must be a mapping, not list"),
    "top-level-scalar": (b"just words\n", "the top level must be a mapping, not str"),
    "unknown-top-level-key": ("feedz: []\n", "feedz: unknown key"),
    "unknown-fetch-key": ("fetch:\n  timeout_seconds: 3\n", "fetch.timeout_seconds: unknown key"),
    "unknown-feed-key": (f"feeds:\n{FEED}    intervall: 5m\n", "feeds[0].intervall: unknown key"),
    "feeds-not-a-list": ("feeds:\n  name: x\n", "feeds:"),
    "feed-is-a-string": ("feeds:\n  - http://127.0.0.1:9/feed.xml\n", "feeds[0]:"),
    "feed-without-url": ("feeds:\n  - name: x\n", "feeds[0].url: missing (this key is required)"),
    "feed-without-name": ("feeds:\n  - url: http://127.0.0.1:9/\n", "feeds[0].name:"),
    "blank-name": ("feeds:\n  - name: '   '\n    url: http://127.0.0.1:9/\n", "must not be blank"),
    "url-not-a-url": ("feeds:\n  - name: x\n    url: not a url\n", "feeds[0].url:"),
    "url-ftp": ("feeds:\n  - name: x\n    url: ftp://127.0.0.1/feed\n", "feeds[0].url:"),
    "url-javascript": ("feeds:\n  - name: x\n    url: 'javascript:alert(1)'\n", "feeds[0].url"),
    "bad-duration": (f"feeds:\n{FEED}    interval: 15x\n", "'15x' is not a duration"),
    "negative-duration": (f"feeds:\n{FEED}    interval: -5m\n", "feeds[0].interval"),
    "zero-duration": ("schedule:\n  interval: 0\n", "must be longer than zero"),
    "boolean-duration": ("schedule:\n  tick: true\n", "True is not a duration"),
    "concurrency-not-a-number": ("fetch:\n  concurrency: many\n", "fetch.concurrency:"),
    "concurrency-zero": ("fetch:\n  concurrency: 0\n", "fetch.concurrency:"),
    "max-bytes-too-small": ("fetch:\n  max_bytes: 100\n", "fetch.max_bytes:"),
    "allow-private-not-a-bool": ("fetch:\n  allow_private_addresses: maybe\n", "fetch.allow_pr"),
    "jitter-above-one": ("schedule:\n  jitter: 3\n", "schedule.jitter:"),
    "tags-not-a-list": (f"feeds:\n{FEED}    tags: pakistan\n", "feeds[0].tags:"),
    "duplicate-feed-names": (f"feeds:\n{FEED}{FEED}", "duplicate feed name 'A feed'"),
    "unknown-database": ("database: mysql://127.0.0.1/x\n", "is not a sqlite:/// or postgresql"),
    "yaml-alias-bomb": (YAML_BOMB, "is not a mapping (key: value lines)"),
    "python-object-tag": ("feeds: !!python/object/apply:os.system [echo pwned]\n", "YAML"),
    "watchlist-missing": ("watchlist: no-such-watchlist.yaml\n", "no-such-watchlist.yaml"),
}


# Cases with more than one problem: all are reported in one run. The bomb's nine feeds are lists
# (not mappings) and its anchors a, b, c are unknown top-level keys.
PROBLEMS = {"yaml-alias-bomb": 12}


def write_case(directory: Path, case: str) -> Path:
    content, _ = CASES[case]
    path = directory / "feeds.yaml"
    if content is None:
        return path
    if content == "<directory>":
        path.mkdir()
        return path
    if isinstance(content, str):
        content = (DATABASE.format(directory=directory) + content).encode()
    path.write_bytes(content)
    return path


@pytest.mark.parametrize("command", [["feeds", "check"], ["run", "--once"]], ids=" ".join)
@pytest.mark.parametrize("case", CASES)
def test_malformed_config_is_one_clear_line_and_exit_2(
    tmp_path: Path, case: str, command: list[str]
) -> None:
    config = write_case(tmp_path, case)

    result = CliRunner().invoke(app, ["--config", str(config), *command])

    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == PROBLEMS.get(case, 1), lines  # every problem, one line each
    assert all(line.startswith("error: ") for line in lines)
    assert CASES[case][1] in lines[0]
    if case != "yaml-alias-bomb":  # see test_yaml_alias_bomb_error_line_is_short
        assert len(lines[0]) < MAX_LINE
    if case != "watchlist-missing":  # the config is valid: `run` opens the database first
        assert not (tmp_path / "pipeline.db").exists()  # refused before anything ran


def test_yaml_alias_bomb_error_line_is_short(tmp_path: Path) -> None:
    config = write_case(tmp_path, "yaml-alias-bomb")
    result = CliRunner().invoke(app, ["--config", str(config), "feeds", "check"])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == PROBLEMS["yaml-alias-bomb"]
    assert all(len(line) < MAX_LINE for line in lines)
