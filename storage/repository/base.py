"""The shared session plumbing every concern of the repository builds on."""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterable, Iterator
from typing import Any, Self, TypeVar

from sqlalchemy import literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Session, SQLModel

from pipeline.core.errors import StorageError
from storage.db import Database

POLLABLE_STATUSES = ("ok", "failing")
CHUNK_SIZE = 500  # values per IN (...): under every engine's bind-parameter limit

T = TypeVar("T", bound=Hashable)


class RepositoryBase:
    """One database; each public method of a concern is one short transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db
        # SQLite has one writer and every transaction here begins IMMEDIATE: threads of this
        # process queue on a lock instead of in SQLite's busy handler, which sleeps up to
        # 100 ms between retries and let a few writer threads stall a whole poll round.
        self._sqlite_lock = threading.RLock() if db.is_sqlite else None

    def close(self) -> None:
        """Release the pooled database connections (the process is done with this database)."""
        self.db.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def ping(self) -> None:
        """A trivial query: raises StorageError when the database does not answer."""
        with self._session() as session:
            session.execute(select(literal(1))).scalar_one()

    def _session(self) -> Any:
        return TranslatedSession(self.db, self._sqlite_lock)


class TranslatedSession:
    """`db.session()` with SQLAlchemy errors (other than IntegrityError, which callers handle)
    mapped to StorageError."""

    def __init__(self, db: Database, lock: threading.RLock | None = None) -> None:
        self._db = db
        self._lock = lock
        self._context: Any = None

    def __enter__(self) -> Session:
        if self._lock is not None:
            self._lock.acquire()
        self._context = self._db.session()
        try:
            session: Session = self._context.__enter__()
        except SQLAlchemyError as exc:
            self._release()
            raise StorageError(f"database error: {exc}") from exc
        except BaseException:
            self._release()
            raise
        return session

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()

    def __exit__(self, exc_type: Any, exc: Any, traceback: Any) -> None:
        try:
            self._context.__exit__(exc_type, exc, traceback)
        except IntegrityError:
            raise
        except SQLAlchemyError as error:
            raise StorageError(f"database error: {error}") from error
        finally:
            self._release()
        if isinstance(exc, SQLAlchemyError) and not isinstance(exc, IntegrityError):
            raise StorageError(f"database error: {exc}") from exc


def dialect_insert(session: Session, model: type[SQLModel]) -> Any:
    """INSERT with ON CONFLICT support for the session's dialect."""
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(model)


def distinct_chunks(values: Iterable[T], size: int = CHUNK_SIZE) -> Iterator[list[T]]:
    """The distinct values in first-seen order, `size` at a time: one IN (...) each."""
    unique = list(dict.fromkeys(values))
    for start in range(0, len(unique), size):
        yield unique[start : start + size]
