"""Column types shared by the models."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from pipeline.core.clock import as_utc


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as a naive UTC timestamp (the same on SQLite and PostgreSQL), read back aware UTC.

    Downstream tools reading the database see plain UTC timestamps without a zone.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return as_utc(value).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # SQLite views return raw text
            value = datetime.fromisoformat(value)
        return as_utc(value)
