"""Engine and sessions; SQLite pragmas (WAL, busy timeout); schema checks and migrations.

A new, empty database is brought to the current schema by the first command that opens it.
An existing database whose schema is behind is never changed silently: ``SchemaOutdatedError``
tells the operator to run ``pipeline db upgrade``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from pipeline.core.errors import SchemaOutdatedError, StorageError

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 30_000


def redact(url: str) -> str:
    """The URL with its password hidden, for logs and error messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except SQLAlchemyError:
        return "<unparseable database URL>"


class Database:
    """One engine per process; short sessions per unit of work."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        try:
            self.engine = _create_engine(url)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise StorageError(f"cannot open database {redact(url)}: {exc}") from None

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on any error."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def ensure_schema(self) -> None:
        """Create the schema on an empty database; refuse one that is behind."""
        # Tables first, then the revision: a worker starting while another creates the schema
        # sees both or neither (one transaction), never tables without their revision.
        has_tables = self._has_tables()
        current, head = self.schema_revisions()
        if current == head:
            return
        if current is None and not has_tables:
            self.upgrade()
            return
        self._refuse_unknown(current)
        raise SchemaOutdatedError(
            f"database schema is at revision {current or 'none'}, this version needs {head}: "
            "run `pipeline db upgrade`"
        )

    def schema_revisions(self) -> tuple[str | None, str]:
        head = ScriptDirectory.from_config(self._alembic_config()).get_current_head()
        try:
            with self.engine.connect() as connection:
                current = MigrationContext.configure(connection).get_current_revision()
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot read database {redact(self.url)}: {exc}") from None
        return current, head or ""

    def upgrade(self) -> None:
        self._refuse_unknown(self.schema_revisions()[0])
        try:
            with self.engine.begin() as connection:
                config = self._alembic_config()
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except SQLAlchemyError as exc:
            raise StorageError(f"migration failed on {redact(self.url)}: {exc}") from None

    def dispose(self) -> None:
        self.engine.dispose()

    def _refuse_unknown(self, current: str | None) -> None:
        """A revision our migrations do not know was written by a newer release: upgrading
        cannot help, and this release must not touch that schema."""
        script = ScriptDirectory.from_config(self._alembic_config())
        known = {revision.revision for revision in script.walk_revisions()}
        if current is None or current in known:
            return
        raise StorageError(
            f"database schema is at revision {current}, which this release does not know "
            "(a newer release migrated it): run that release or a later one"
        )

    def _has_tables(self) -> bool:
        try:
            names = set(inspect(self.engine).get_table_names())
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot read database {redact(self.url)}: {exc}") from None
        return bool(names - {"alembic_version"})

    def _alembic_config(self) -> AlembicConfig:
        config = AlembicConfig()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        return config


def _create_engine(url: str) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control from pysqlite so that we can BEGIN IMMEDIATE ourselves.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_on_begin(connection: Any) -> None:
    # IMMEDIATE takes the write lock up front (waiting up to the busy timeout), so two processes
    # never deadlock upgrading read locks to write locks ("database is locked").
    connection.exec_driver_sql("BEGIN IMMEDIATE")
