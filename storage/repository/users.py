"""Desk users: accounts, roles, API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlmodel import col

from pipeline.core.errors import NotFoundError
from storage.models import AppUser
from storage.repository.base import RepositoryBase, dialect_insert
from storage.repository.records import UserRecord


class UserStore(RepositoryBase):
    """Desk users."""

    def add_user(self, name: str, *, password_hash: str, role: str, now: datetime) -> bool:
        """Create a user; False when the name is taken."""
        with self._session() as session:
            inserted = session.execute(
                dialect_insert(session, AppUser)
                .values(name=name, password_hash=password_hash, role=role, created_at=now)
                .on_conflict_do_nothing(index_elements=["name"])
                .returning(col(AppUser.id))
            ).scalar_one_or_none()
        return inserted is not None

    def list_users(self) -> list[UserRecord]:
        with self._session() as session:
            rows = session.execute(select(AppUser).order_by(col(AppUser.name))).scalars()
            return [_user_record(row) for row in rows]

    def user_by_name(self, name: str) -> UserRecord | None:
        with self._session() as session:
            row = session.execute(
                select(AppUser).where(col(AppUser.name) == name)
            ).scalar_one_or_none()
            return _user_record(row) if row is not None else None

    def user_by_token_hash(self, token_hash: str) -> UserRecord | None:
        with self._session() as session:
            row = session.execute(
                select(AppUser).where(col(AppUser.api_token_hash) == token_hash)
            ).scalar_one_or_none()
            return _user_record(row) if row is not None else None

    def set_user_token(self, name: str, token_hash: str) -> None:
        """Replace the user's API token (only its hash is stored)."""
        self._update_user(name, api_token_hash=token_hash)

    def set_user_disabled(self, name: str, disabled: bool) -> None:
        """Disable (or enable again) a user: a disabled user's session and API token stop
        working at their next request."""
        self._update_user(name, disabled=disabled)

    def _update_user(self, name: str, **values: Any) -> None:
        with self._session() as session:
            result = session.execute(
                update(AppUser).where(col(AppUser.name) == name).values(**values)
            )
            if not getattr(result, "rowcount", 0):
                raise NotFoundError(f"no user named {name!r}")


def _user_record(row: AppUser) -> UserRecord:
    return UserRecord(
        id=row.id or 0,
        name=row.name,
        role=row.role,
        password_hash=row.password_hash,
        has_api_token=row.api_token_hash is not None,
        disabled=row.disabled,
        created_at=row.created_at,
    )
