"""Databases for tests: a SQLite file, or a fresh PostgreSQL database created and dropped per
test on the server at $PIPELINE_TEST_POSTGRES_URL (default: the local trust-auth server).

When PostgreSQL cannot be reached the PostgreSQL cases fail, unless the run is a local one
without PIPELINE_REQUIRE_POSTGRES, where they are skipped with the reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from storage.db import Database

POSTGRES_ADMIN_URL = os.environ.get(
    "PIPELINE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
ENGINES = ["sqlite", "postgresql"]


@contextmanager
def database_url(engine: str, tmp_path: Path) -> Iterator[str]:
    if engine == "sqlite":
        yield f"sqlite:///{tmp_path / 'pipeline.db'}"
        return
    name = f"sw_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        if os.environ.get("PIPELINE_REQUIRE_POSTGRES") or os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required but not reachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}")
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def at_revision(db: Database, revision: str) -> Iterator[Connection]:
    """`db` migrated only up to the older `revision`, as an older release left it: the
    connection, in the migration's transaction, to fill it in as that release would have."""
    with db.engine.begin() as connection:
        alembic_config = db._alembic_config()
        alembic_config.attributes["connection"] = connection
        command.upgrade(alembic_config, revision)
        yield connection
