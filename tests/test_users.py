"""`pipeline users`: accounts with argon2 password hashes and sha256-hashed API tokens, on
SQLite and PostgreSQL, through the real CLI."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from pipeline.cli.app import app
from pipeline.core.config import load_config
from pipeline.desk.users import authenticate, user_for_token
from storage.db import Database
from storage.repository import Repository


def cli(config: Path, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--config", str(config), *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def stored(config: Path, name: str) -> tuple[str, str | None, str]:
    engine = create_engine(load_config(config).database)
    try:
        with engine.connect() as connection:
            row = connection.execute(
                text("SELECT password_hash, api_token_hash, role FROM app_user WHERE name = :n"),
                {"n": name},
            ).one()
    finally:
        engine.dispose()
    return row[0], row[1], row[2]


def test_add_list_and_token(make_config: Callable[..., Path]) -> None:
    config = make_config([])
    code, out, _err = cli(
        config, "users", "add", "alice", "--password-stdin", stdin="s3cret-pass\n"
    )
    assert code == 0 and "alice" in out
    code, _out, _err = cli(
        config,
        "users",
        "add",
        "oscar",
        "--role",
        "observer",
        "--password-stdin",
        stdin="pw-oscar-1\n",
    )
    assert code == 0
    password_hash, token_hash, role = stored(config, "alice")
    assert password_hash.startswith("$argon2") and "s3cret-pass" not in password_hash
    assert token_hash is None and role == "reviewer"
    assert stored(config, "oscar")[2] == "observer"

    code, out, _err = cli(config, "users", "token", "alice")
    token = out.strip()
    assert code == 0 and len(token) >= 40
    assert stored(config, "alice")[1] == hashlib.sha256(token.encode()).hexdigest()
    code, again, _err = cli(config, "users", "token", "alice")
    assert again.strip() != token  # rotated: the old token stops working

    repository = Repository(Database(load_config(config).database))
    try:
        assert user_for_token(repository, token) is None
        user = user_for_token(repository, again.strip())
        assert user is not None and user.name == "alice"
        assert authenticate(repository, "alice", "s3cret-pass") is not None
        assert authenticate(repository, "alice", "wrong-pass") is None
        assert authenticate(repository, "nobody", "s3cret-pass") is None
    finally:
        repository.db.dispose()

    code, out, _err = cli(config, "users", "list", "--format", "json")
    listed = {user["name"]: user for user in json.loads(out)}
    assert code == 0 and set(listed) == {"alice", "oscar"}
    assert listed["alice"]["has_api_token"] is True and listed["oscar"]["role"] == "observer"
    assert "password" not in json.dumps(listed)


def test_bad_input_is_a_usage_error(make_config: Callable[..., Path]) -> None:
    config = make_config([])
    assert cli(config, "users", "add", "alice", "--password-stdin", stdin="long-enough\n")[0] == 0
    code, _out, err = cli(config, "users", "add", "alice", "--password-stdin", stdin="other-pass\n")
    assert code == 2 and "already exists" in err
    code, _out, err = cli(config, "users", "add", "bob", "--password-stdin", stdin="short\n")
    assert code == 2 and "too short" in err
    code, _out, err = cli(
        config, "users", "add", "bad name", "--password-stdin", stdin="long-enough\n"
    )
    assert code == 2 and "user name" in err
    code, _out, err = cli(config, "users", "add", "eve", "--role", "admin", "--password-stdin")
    assert code == 2
    code, _out, err = cli(config, "users", "token", "nobody")
    assert code == 1 and "no user named 'nobody'" in err


def test_password_prompt_asks_twice(make_config: Callable[..., Path]) -> None:
    config = make_config([])
    code, _out, _err = cli(config, "users", "add", "carol", stdin="pass-word-1\npass-word-1\n")
    assert code == 0
    assert stored(config, "carol")[0].startswith("$argon2")


def test_disable_stops_sign_in_and_token_enable_restores_them(
    make_config: Callable[..., Path],
) -> None:
    config = make_config([])
    assert cli(config, "users", "add", "dora", "--password-stdin", stdin="pw-dora-12\n")[0] == 0
    code, token, _err = cli(config, "users", "token", "dora")
    assert code == 0
    database = Database(load_config(config).database)
    repository = Repository(database)

    def can_sign_in() -> bool:
        return authenticate(repository, "dora", "pw-dora-12") is not None

    def token_works() -> bool:
        return user_for_token(repository, token.strip()) is not None

    assert can_sign_in() and token_works()
    code, out, _err = cli(config, "users", "disable", "dora")
    assert code == 0 and "disabled" in out
    assert not can_sign_in() and not token_works()
    assert cli(config, "users", "enable", "dora")[0] == 0
    assert can_sign_in() and token_works()
    code, _out, err = cli(config, "users", "disable", "nobody")
    assert code != 0 and "nobody" in err
    database.dispose()
