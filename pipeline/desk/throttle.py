"""Sign-in that withstands guessing: failures in a row are counted per account and per client
address; past a few free ones the key is locked for a time that doubles with every further
failure (15 s, 30 s, 1 min ... capped at 15 min). While locked, sign-in is refused before any
password is checked, so even the right password waits. Every attempt is audited
(sign_in_event), and `pipeline users list` shows the state.

Argon2 is deliberately slow: at most ARGON2_IN_FLIGHT verifications run at once, a bounded
number wait (without holding a thread), and the rest are told to retry, so a flood of
sign-ins cannot starve the desk's thread pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from storage.repository import Repository

ACCOUNT_FREE_FAILURES = 5  # a user mistyping a few times is never slowed
ADDRESS_FREE_FAILURES = 20  # one address may be a whole office behind NAT
LOCK_BASE = timedelta(seconds=15)
LOCK_CAP = timedelta(minutes=15)
FORGET_AFTER = timedelta(hours=1)  # failures this old no longer count
ARGON2_IN_FLIGHT = 2  # verifications at once (each ~50 ms of one core, 64 MiB)
ARGON2_WAITING = 32  # more waiting than this: answered "busy, retry" at once


class SignInBusy(Exception):
    """Too many sign-ins are being checked at once: retry in a moment."""


@dataclass(frozen=True, slots=True)
class Throttle:
    """A refused attempt: locked until `until`."""

    until: datetime

    def retry_after(self, now: datetime) -> int:
        return max(1, int((self.until - now).total_seconds() + 0.999))


def account_key(name: str) -> str:
    return f"account:{name.strip().lower()}"


def address_key(address: str) -> str:
    return f"address:{address}"


def lock_for(beyond: int) -> timedelta:
    """How long a key is locked after `beyond` failures past its allowance (>= 1)."""
    doubled: timedelta = LOCK_BASE * (2 ** min(beyond - 1, 20))
    return min(doubled, LOCK_CAP)


class SignInGuard:
    """The throttle in front of password and token checks (one per app)."""

    def __init__(self, repository: Repository) -> None:
        self._repository = repository
        self._semaphore: asyncio.Semaphore | None = None
        self._waiting = 0

    def locked(self, name: str, address: str, now: datetime) -> Throttle | None:
        keys = [address_key(address)] + ([account_key(name)] if name else [])
        until = self._repository.sign_in_locks(keys, now)
        return Throttle(until) if until is not None else None

    def failed(self, name: str, address: str, now: datetime) -> None:
        allowances = {address_key(address): ADDRESS_FREE_FAILURES}
        if name:
            allowances[account_key(name)] = ACCOUNT_FREE_FAILURES
        self._repository.record_sign_in_failure(
            allowances, now, lock_for, forget_before=now - FORGET_AFTER
        )

    def succeeded(self, name: str) -> None:
        # Only the account is cleared: one valid account must not reset its address's count.
        self._repository.clear_sign_in_failures([account_key(name)])

    @asynccontextmanager
    async def verifying(self) -> AsyncIterator[None]:
        """Hold one of the ARGON2_IN_FLIGHT slots (SignInBusy when too many wait)."""
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(ARGON2_IN_FLIGHT)
        if self._waiting >= ARGON2_WAITING:
            raise SignInBusy
        self._waiting += 1
        try:
            await self._semaphore.acquire()
        finally:
            self._waiting -= 1
        try:
            yield
        finally:
            self._semaphore.release()


def throttle_state(repository: Repository, now: datetime) -> dict[str, dict[str, object]]:
    """Per user name (lower case): failures in a row and the lock still running, if any."""
    state: dict[str, dict[str, object]] = {}
    for key, row in repository.sign_in_throttles().items():
        if key.startswith("account:"):
            until = row["locked_until"]
            state[key.removeprefix("account:")] = {
                "failures": row["failures"],
                "locked_until": until if until is not None and until > now else None,
            }
    return state
