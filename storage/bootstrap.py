"""The one way in: open the configured database, bring an empty one to the schema, and hand
back the repository over it.

Every process (the CLI, the worker, rescan, reprocess, the desk) opens its database here, so
"which checks run before the first query" has one answer: ``Database.ensure_schema`` creates
the schema on an empty database and refuses one that is behind (``SchemaOutdatedError``).
Close the repository when done (``repository.close()``, or use it as a context manager).
"""

from __future__ import annotations

from storage.db import Database
from storage.repository import Repository


def open_repository(database_url: str) -> Repository:
    """The repository on `database_url`, its schema checked (and created when empty)."""
    database = Database(database_url)
    try:
        database.ensure_schema()
    except BaseException:
        database.dispose()  # nothing else holds the engine: never leak its connections
        raise
    return Repository(database)
