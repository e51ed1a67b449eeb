"""Who is asking: signed-cookie sessions with a CSRF token for the pages, bearer tokens for the
API, and the two roles (reviewers decide, observers only read).

The session cookie (Starlette's SessionMiddleware: signed, HttpOnly, SameSite=Lax) holds the
user's name and a random CSRF token; the user is re-read on every request, so disabling a user
or changing a role takes effect at once. `--auth-token T` lets anyone presenting T act as one
team reviewer named "team".
"""

from __future__ import annotations

import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import HTTPConnection

from pipeline.desk.users import authenticate, user_for_token
from storage.repository import Repository

TEAM = "team"
SECRET_KEY_ENV = "PIPELINE_SECRET_KEY"  # noqa: S105 - the variable's name, not a secret
CSRF_HEADER = "X-CSRF-Token"
_SESSION_USER = "user"
_SESSION_TEAM = "team"
_SESSION_CSRF = "csrf"


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: str  # reviewer | observer

    @property
    def can_review(self) -> bool:
        return self.role == "reviewer"


def resolve_secret_key(config_path: Path) -> str:
    """$PIPELINE_SECRET_KEY, else data/secret_key beside the config file (created once, 0600):
    sessions then survive restarts and are shared by every `pipeline serve` on that config."""
    from_env = os.environ.get(SECRET_KEY_ENV)
    if from_env:
        return from_env
    path = config_path.resolve().parent / "data" / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(secrets.token_urlsafe(48))
    return path.read_text(encoding="utf-8").strip()


class DeskAuth:
    """Authentication against the user table and the optional team token."""

    def __init__(self, repository: Repository, team_token: str | None) -> None:
        self._repository = repository
        self._team_token = team_token or None

    def check(self, name: str, password: str, token: str) -> tuple[Principal, bool] | None:
        """Who these credentials are (and whether it is the team), else None. Blocking: an
        argon2 verification; the sign-in page runs it under the throttle's bound."""
        if token:
            return (Principal(TEAM, "reviewer"), True) if self._is_team_token(token) else None
        if name and password:
            user = authenticate(self._repository, name, password)
            return (Principal(user.name, user.role), False) if user else None
        return None

    def start_session(self, connection: HTTPConnection, principal: Principal, team: bool) -> None:
        connection.session.clear()  # a fresh session (and CSRF token) on every sign-in
        connection.session[_SESSION_USER] = principal.name
        connection.session[_SESSION_TEAM] = team
        connection.session[_SESSION_CSRF] = secrets.token_urlsafe(32)

    def sign_out(self, connection: HTTPConnection) -> None:
        connection.session.clear()

    def session_principal(self, connection: HTTPConnection) -> Principal | None:
        name = connection.session.get(_SESSION_USER)
        if not isinstance(name, str):
            return None
        if connection.session.get(_SESSION_TEAM):
            return Principal(TEAM, "reviewer") if self._team_token else None
        user = self._repository.user_by_name(name)
        if user is None or user.disabled:
            return None
        return Principal(user.name, user.role)

    def bearer_principal(self, token: str) -> Principal | None:
        """The API caller: a user's API token or the team token."""
        if not token:
            return None
        if self._is_team_token(token):
            return Principal(TEAM, "reviewer")
        user = user_for_token(self._repository, token)
        return Principal(user.name, user.role) if user else None

    def _is_team_token(self, token: str) -> bool:
        return self._team_token is not None and hmac.compare_digest(
            token.encode("utf-8"), self._team_token.encode("utf-8")
        )


def csrf_token(connection: HTTPConnection) -> str:
    """The session's CSRF token (a signed-out visitor gets one too, for the sign-in form)."""
    token = connection.session.get(_SESSION_CSRF)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        connection.session[_SESSION_CSRF] = token
    return token


def csrf_valid(connection: HTTPConnection, submitted: str | None) -> bool:
    expected = connection.session.get(_SESSION_CSRF)
    if not isinstance(expected, str) or not submitted:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), submitted.encode("utf-8"))
