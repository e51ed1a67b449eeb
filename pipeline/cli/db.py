"""`pipeline db`: the database schema."""

from __future__ import annotations

import typer

from pipeline.cli.context import guard, session
from pipeline.cli.render import write
from storage.db import Database, redact

group = typer.Typer(no_args_is_help=True, help="Database schema.")


@group.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply database migrations."""
    config = session(ctx).config()

    def upgrade() -> tuple[str | None, str]:
        database = Database(config.database)
        try:
            before, _head = database.schema_revisions()
            database.upgrade()
            return before, database.schema_revisions()[0] or ""
        finally:
            database.dispose()

    before, after = guard(upgrade)
    if before == after:
        write(f"database {redact(config.database)}: up to date (schema {after})")
    else:
        write(f"database {redact(config.database)}: {before or 'empty'} -> {after}")
