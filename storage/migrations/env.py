"""Alembic environment: runs on the connection `storage.db.Database.upgrade` passes in, or on
`sqlalchemy.url` when Alembic is run from the command line."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, text
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)

config = context.config
target_metadata = SQLModel.metadata
# Serialises concurrent first starts of several workers on one PostgreSQL database.
_PG_MIGRATION_LOCK = 7_350_261


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})"))
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as new_connection:
        _run(new_connection)


run_migrations_online()
