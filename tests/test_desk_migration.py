"""Migration 0005 upgrades a 0002 database in place, on SQLite and PostgreSQL: the sign-in
throttle and audit tables appear, and existing entities get empty identifiers and addresses
(filled at the next watchlist sync)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import inspect, text

from pipeline.core.records import EntityRecord
from storage.db import Database
from storage.repository import Repository
from tests.db_engines import at_revision


def test_a_0002_database_is_upgraded_in_place(database: str) -> None:
    db = Database(database)
    try:
        with at_revision(db, "0002") as connection:
            connection.execute(
                text(
                    "INSERT INTO entity (id, name, kind, programs, aliases, source, updated_at)"
                    " VALUES ('ofac-1', 'Old Entity', 'organisation', '[]', '[]', '', :at)"
                ),
                {"at": datetime(2026, 1, 1)},
            )
        assert "sign_in_throttle" not in inspect(db.engine).get_table_names()
        db.upgrade()
        tables = set(inspect(db.engine).get_table_names())
        assert {"sign_in_throttle", "sign_in_event"} <= tables
        repository = Repository(db)
        [old] = repository.entities_overview()
        assert (old["name"], old["identifiers"], old["addresses"]) == ("Old Entity", {}, [])
        record = EntityRecord(
            "ofac-1", "Old Entity", "organisation", "PK", [], [], "", {"tax_id": "1"}, ["Karachi"]
        )
        repository.sync_entities([record], datetime.now(UTC))
        [synced] = repository.entities_overview()
        assert (synced["identifiers"], synced["addresses"]) == ({"tax_id": "1"}, ["Karachi"])
    finally:
        db.dispose()
