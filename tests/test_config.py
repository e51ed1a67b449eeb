"""feeds.yaml validation: one clear line naming the key path and the value, exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli.app import app
from pipeline.core.config import load_config, parse_duration
from pipeline.core.errors import ConfigError

CASES = {
    "unknown key": ("fetch:\n  concurency: 3\n", "fetch.concurency: unknown key"),
    "bad url": ("feeds:\n - {name: a, url: 'notaurl'}\n", "feeds[0].url"),
    "bad interval": (
        "feeds:\n - {name: a, url: 'https://a.example/f', interval: 15x}\n",
        "feeds[0].interval: '15x' is not a duration",
    ),
    "duplicate name": (
        "feeds:\n - {name: a, url: 'https://a.example/'}\n - {name: a, url: 'https://b.example/'}\n",
        "feeds[1].name: duplicate feed name 'a'",
    ),
    "yaml syntax": ("feeds: [\n", "YAML syntax error"),
    "not a mapping": ("- a\n- b\n", "top level must be a mapping"),
    "negative concurrency": ("fetch:\n  concurrency: 0\n", "fetch.concurrency"),
    "bad database": ("database: mysql://x\n", "database"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_invalid_config_is_one_line_and_exit_2(name: str, tmp_path: Path) -> None:
    body, expected = CASES[name]
    path = tmp_path / "feeds.yaml"
    path.write_text(body)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert expected in str(error.value)
    result = CliRunner().invoke(app, ["--config", str(path), "feeds", "check"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0]


def test_missing_config_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["--config", str(tmp_path / "nope.yaml"), "feeds", "check"])
    assert result.exit_code == 2 and "file not found" in result.stderr


def test_durations() -> None:
    assert parse_duration("15m") == 900
    assert parse_duration("2h") == 7200
    assert parse_duration("90s") == 90
    assert parse_duration(30) == 30
    with pytest.raises(ValueError):
        parse_duration("0s")


def test_database_env_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text("database: sqlite:///a.db\n")
    monkeypatch.setenv("PIPELINE_DATABASE_URL", "sqlite:///b.db")
    assert load_config(path).database == "sqlite:///b.db"


def test_shipped_feeds_yaml_is_valid() -> None:
    config = load_config(Path(__file__).parent.parent / "feeds.yaml")
    assert 10 <= len([feed for feed in config.feeds if "urdu" not in feed.tags]) <= 20
    assert all(str(feed.url).startswith("https://") for feed in config.feeds)
