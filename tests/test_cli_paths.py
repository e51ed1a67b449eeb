"""Where the CLI looks: relative paths in feeds.yaml resolve against the file's folder, reading
commands refuse a SQLite file that is not there (a typo is not an empty queue), and only `run`,
`db upgrade` and `users add` create one. `feeds check` shows every path and reaches the
database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli.app import app
from pipeline.core.config import load_config

READING = [
    ["flags", "list"],
    ["flags", "show", "1"],
    ["flags", "review", "1", "--status", "relevant"],
    ["feeds", "list"],
    ["feeds", "stale"],
    ["articles", "list"],
    ["alerts", "list"],
    ["alerts", "retry"],
    ["stats"],
    ["users", "list"],
    ["users", "token", "alice"],
    ["rescan"],
    ["reprocess"],
    ["serve", "--port", "0"],
]


def cli(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def typo_config(tmp_path: Path) -> tuple[Path, Path]:
    database = tmp_path / "bad" / "dir" / "x.db"
    config = tmp_path / "feeds.yaml"
    config.write_text(f"database: sqlite:///{database}\n", encoding="utf-8")
    return config, database


@pytest.mark.parametrize("command", READING, ids=" ".join)
def test_reading_commands_refuse_a_missing_sqlite_file(tmp_path: Path, command: list[str]) -> None:
    config, database = typo_config(tmp_path)
    code, out, err = cli("--config", str(config), *command)
    assert (code, out) == (1, "")
    assert err == (
        f"error: database {database} does not exist (`pipeline run` or `pipeline db upgrade` "
        f"creates it; check `database:` in {config})\n"
    )
    assert not (tmp_path / "bad").exists()  # not even the folders


def test_db_upgrade_and_users_add_create_the_database(tmp_path: Path) -> None:
    config, database = typo_config(tmp_path)
    assert (
        cli(
            "--config",
            str(config),
            "users",
            "add",
            "alice",
            "--password-stdin",
            stdin="a-long-password\n",
        )[0]
        == 0
    )
    assert database.exists()
    database.unlink()
    code, out, _err = cli("--config", str(config), "db", "upgrade")
    assert code == 0 and f"sqlite:///{database}: empty -> " in out
    assert database.exists()


def test_db_upgrade_says_up_to_date(tmp_path: Path) -> None:
    config, database = typo_config(tmp_path)
    assert cli("--config", str(config), "db", "upgrade")[0] == 0
    code, out, _err = cli("--config", str(config), "db", "upgrade")
    assert code == 0
    assert out.startswith(f"database sqlite:///{database}: up to date (schema ")


def test_missing_database_as_a_process(tmp_path: Path) -> None:
    config, database = typo_config(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "--config", str(config), "flags", "list"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith(f"error: database {database} does not exist")
    assert result.stderr.count("\n") == 1
    assert not (tmp_path / "bad").exists()


def test_relative_paths_resolve_against_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "conf"
    (folder / "lists").mkdir(parents=True)
    (folder / "lists" / "w.yaml").write_text("entities:\n  - {id: a, name: Alpha Corp}\n")
    config = folder / "feeds.yaml"
    config.write_text(
        "database: sqlite:///data/p.db\nwatchlist: lists/w.yaml\narchive:\n  path: pages\n",
        encoding="utf-8",
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("PIPELINE_DATABASE_URL", raising=False)

    loaded = load_config(Path("../conf/feeds.yaml"))
    assert loaded.database == f"sqlite:///{folder / 'data/p.db'}"
    assert loaded.watchlist == folder / "lists/w.yaml"
    assert loaded.archive.path == folder / "pages"

    code, out, err = cli("--config", "../conf/feeds.yaml", "feeds", "check")
    assert code == 0, err
    assert out.splitlines()[1:] == [
        f"  config     {config}",
        f"  database   sqlite:///{folder / 'data/p.db'} "
        "(not created yet: `pipeline run` creates it)",
        f"  watchlist  {folder / 'lists/w.yaml'}",
        f"  archive    {folder / 'pages'}",
    ]
    assert out.startswith("ok: 0 feeds, 1 watchlist entity, database ")
    assert not (folder / "data").exists() and not (elsewhere / "data").exists()


def test_the_default_database_is_next_to_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PIPELINE_DATABASE_URL", raising=False)
    config = tmp_path / "feeds.yaml"
    config.write_text("feeds: []\n", encoding="utf-8")
    assert load_config(config).database == f"sqlite:///{tmp_path / 'data/pipeline.db'}"


def test_feeds_check_reaches_the_database(tmp_path: Path) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text(
        "database: postgresql+psycopg://sanctions:secret@127.0.0.1:1/sanctions\n", encoding="utf-8"
    )
    code, out, err = cli("--config", str(config), "feeds", "check")
    assert (code, out) == (1, "")
    assert err.startswith("error: cannot read database ")
    assert err.count("\n") == 1 and "secret" not in err
