"""What every command shares for one invocation: the config (read once), the repository (opened
on first use, disposed when the command ends), and the one way errors leave the CLI.

The root callback puts a `Session` on typer's context; a command takes `ctx: typer.Context` and
calls `session(ctx)`. Nothing is kept in module globals, so tests can invoke the app many times
in one process.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import NoReturn, TypeVar

import typer

from pipeline.core.clock import utcnow
from pipeline.core.config import Config, load_config, resolve_config_path, sqlite_file
from pipeline.core.errors import ConfigError, PipelineError
from pipeline.core.since import parse_since
from storage.bootstrap import open_repository
from storage.repository import Repository

T = TypeVar("T")

# Exit codes (DESIGN.md): 0 success, 1 runtime failure, 2 usage or configuration error.
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


@dataclass
class Session:
    """One invocation's settings and lazily opened resources."""

    config_path: str | None = None
    _config: Config | None = field(default=None, init=False)
    _repository: Repository | None = field(default=None, init=False)

    @property
    def config_file(self) -> Path:
        return resolve_config_path(self.config_path)

    def config(self) -> Config:
        """feeds.yaml, read and validated once; a bad file ends the command with exit 2."""
        if self._config is None:
            try:
                self._config = load_config(self.config_file)
            except ConfigError as exc:
                fail_config(exc)
        return self._config

    def require_database(self) -> None:
        """Reading commands never create a database: a SQLite file that is not there is a
        typo or a wrong folder, not an empty queue."""
        path = sqlite_file(self.config().database)
        if path is not None and not path.exists():
            fail(
                f"database {path.resolve()} does not exist (`pipeline run` or "
                f"`pipeline db upgrade` creates it; check `database:` in {self.config_file})",
                EXIT_FAILURE,
            )

    def repository(self, *, create: bool = False) -> Repository:
        """The repository on the configured database, brought to the schema on first use.
        Unless `create`, a missing SQLite file ends the command (exit 1)."""
        if self._repository is None:
            if not create:
                self.require_database()
            database_url = self.config().database
            self._repository = guard(lambda: open_repository(database_url))
        return self._repository

    def close(self) -> None:
        if self._repository is not None:
            self._repository.close()
            self._repository = None


def session(ctx: typer.Context) -> Session:
    """The invocation's session (created by the root callback; a bare one for a lone command)."""
    found = ctx.find_object(Session)
    if found is None:
        found = ctx.ensure_object(Session)
        ctx.call_on_close(found.close)
    return found


def guard(action: Callable[[], T]) -> T:
    """Run `action`; turn the project's errors into one stderr line and an exit code."""
    try:
        return action()
    except ConfigError as exc:
        fail_config(exc)
    except PipelineError as exc:
        fail(str(exc), EXIT_FAILURE)
    except KeyboardInterrupt:
        fail("interrupted", EXIT_FAILURE)


def fail(message: str, code: int) -> NoReturn:
    """One line on stderr, then exit with `code`."""
    # One line: SQLAlchemy's messages go on with the SQL, its parameters and a help link.
    first_line = next((line for line in message.splitlines() if line.strip()), message)
    print(f"error: {first_line}", file=sys.stderr)
    raise typer.Exit(code)


def fail_config(exc: ConfigError) -> NoReturn:
    """Every problem of a config file, one line each (all of them in one run), then exit 2."""
    for line in str(exc).splitlines():
        print(f"error: {line}", file=sys.stderr)
    raise typer.Exit(EXIT_USAGE)


def since_option(value: str | None, option: str = "--since") -> datetime | None:
    """A --since value (ISO date or a span back from now such as 2d); exit 2 when malformed."""
    if value is None:
        return None
    try:
        return parse_since(value, utcnow())
    except ValueError as exc:
        fail(f"{option}: {exc}", EXIT_USAGE)
