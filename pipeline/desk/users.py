"""Desk users (`pipeline users`, `pipeline serve`): accounts, argon2 password hashes, API tokens.

Only hashes are stored: argon2 for passwords, sha256 for API tokens (a token is 256 random
bits, so a fast hash is enough and lets a request find its user by one index lookup).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from pipeline.core.errors import PipelineError
from storage.models import USER_ROLES
from storage.repository import Repository, UserRecord

MIN_PASSWORD_LENGTH = 8
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_HASHER = PasswordHasher()
# Verified against when the user does not exist, so a wrong name costs as long as a wrong
# password and sign-in timing does not reveal which names exist.
_DUMMY_HASH = _HASHER.hash(secrets.token_hex(16))


class UserError(PipelineError):
    """A user cannot be created or changed as asked (bad name, role or password; taken name)."""


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def add_user(repository: Repository, name: str, password: str, *, role: str, now: datetime) -> None:
    if not _NAME.match(name):
        raise UserError(
            f"user name {name!r}: use 1-64 letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit"
        )
    if role not in USER_ROLES:
        raise UserError(f"role {role!r}: use one of {', '.join(USER_ROLES)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"password too short: use at least {MIN_PASSWORD_LENGTH} characters")
    if not repository.add_user(name, password_hash=hash_password(password), role=role, now=now):
        raise UserError(f"user {name!r} already exists")


def rotate_token(repository: Repository, name: str) -> str:
    """A new API token for the user (the old one stops working); shown once, never stored."""
    token = secrets.token_urlsafe(32)
    repository.set_user_token(name, hash_token(token))
    return token


def authenticate(repository: Repository, name: str, password: str) -> UserRecord | None:
    """The enabled user with this name and password, else None."""
    user = repository.user_by_name(name)
    valid = verify_password(user.password_hash if user else _DUMMY_HASH, password)
    return user if user is not None and valid and not user.disabled else None


def user_for_token(repository: Repository, token: str) -> UserRecord | None:
    user = repository.user_by_token_hash(hash_token(token))
    return user if user is not None and not user.disabled else None
