"""Sign-in that withstands guessing, over a real server: failures per account and per client
address lock sign-in for a doubling time (then even the right password waits), every attempt
is audited and `pipeline users list` shows the state; other users and the queue stay
responsive during a flood; argon2 work in flight is bounded; cookies carry Secure behind a
trusted TLS proxy. Time is an injected clock: nothing waits for a lock to run out."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from pipeline.cli.app import app
from pipeline.core.clock import utcnow
from pipeline.desk import throttle
from pipeline.desk.throttle import SignInBusy, SignInGuard, lock_for
from tests.desk import PASSWORD, Desk, desk_on_copy, seeded_database
from tests.test_web import CSRF

PROXY = "127.0.0.1"  # the desk trusts X-Forwarded-* from loopback, as behind a local proxy


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def seeded_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seeded_database(tmp_path_factory.mktemp("signin"))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def desk(seeded_file: Path, tmp_path: Path, clock: Clock) -> Iterator[Desk]:
    with desk_on_copy(seeded_file, tmp_path, clock=clock, forwarded_allow_ips=PROXY) as running:
        yield running


def attempt(
    desk: Desk, name: str, password: str, address: str = "198.51.100.7"
) -> tuple[httpx.Response, httpx.Client]:
    """One sign-in from `address` (as the proxy tells it), with a fresh form's CSRF token."""
    browser = httpx.Client(
        base_url=desk.base,
        headers={"X-Forwarded-For": address},
        follow_redirects=False,
        timeout=60,  # a loaded CI machine: liveness is asserted, never speed
    )
    token = CSRF.search(browser.get("/login").text)
    assert token is not None
    answer = browser.post(
        "/login", data={"csrf_token": token.group(1), "name": name, "password": password}
    )
    return answer, browser


def users_list(desk: Desk, tmp_path: Path) -> list[dict[str, object]]:
    config = tmp_path / "feeds.yaml"
    config.write_text(yaml.safe_dump({"database": desk.database_url}), encoding="utf-8")
    result = CliRunner().invoke(app, ["--config", str(config), "users", "list", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows: list[dict[str, object]] = json.loads(result.stdout)
    return rows


def test_after_the_limit_even_the_right_password_waits(
    desk: Desk, clock: Clock, tmp_path: Path
) -> None:
    for _ in range(throttle.ACCOUNT_FREE_FAILURES + 1):
        answer, _ = attempt(desk, "alice", "wrong-password")
        assert answer.status_code == 401
    locked, _ = attempt(desk, "alice", PASSWORD)
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) == int(lock_for(1).total_seconds())
    assert "Too many failed sign-ins" in locked.text

    # The other user, from another address, and the queue are unaffected.
    other, browser = attempt(desk, "oscar", PASSWORD, address="203.0.113.9")
    assert other.status_code == 303
    assert browser.get("/").status_code == 200

    alice = next(user for user in users_list(desk, tmp_path) if user["name"] == "alice")
    assert alice["failed_sign_ins"] == throttle.ACCOUNT_FREE_FAILURES + 1
    assert alice["locked_until"] is not None
    events = desk.repository.sign_in_events("alice")
    assert [event["outcome"] for event in events][:2] == ["throttled", "failed"]
    assert {event["address"] for event in events} == {"198.51.100.7"}  # the proxy's client

    clock.now += lock_for(1) + timedelta(seconds=1)
    answer, browser = attempt(desk, "alice", PASSWORD)
    assert answer.status_code == 303 and browser.get("/").status_code == 200
    alice = next(user for user in users_list(desk, tmp_path) if user["name"] == "alice")
    assert (alice["failed_sign_ins"], alice["locked_until"]) == (0, None)
    assert desk.repository.sign_in_events("alice")[0]["outcome"] == "ok"


def test_each_further_failure_doubles_the_lock(desk: Desk, clock: Clock) -> None:
    for _ in range(throttle.ACCOUNT_FREE_FAILURES + 1):
        attempt(desk, "alice", "wrong-password")
    clock.now += lock_for(1) + timedelta(seconds=1)
    answer, _ = attempt(desk, "alice", "still-wrong")  # the lock ran out: checked, failed
    assert answer.status_code == 401
    locked, _ = attempt(desk, "alice", PASSWORD)
    assert int(locked.headers["Retry-After"]) == int(lock_for(2).total_seconds())
    assert lock_for(2) == 2 * lock_for(1) and lock_for(50) == throttle.LOCK_CAP


def test_one_address_guessing_many_names_is_locked_too(desk: Desk) -> None:
    for index in range(throttle.ADDRESS_FREE_FAILURES + 1):
        answer, _ = attempt(desk, f"guess{index}", "wrong-password", address="192.0.2.66")
        assert answer.status_code == 401
    blocked, _ = attempt(desk, "oscar", PASSWORD, address="192.0.2.66")
    assert blocked.status_code == 429
    elsewhere, _ = attempt(desk, "oscar", PASSWORD, address="192.0.2.67")
    assert elsewhere.status_code == 303


def test_a_flood_of_sign_ins_leaves_the_queue_responsive(desk: Desk) -> None:
    _, reader = attempt(desk, "oscar", PASSWORD, address="203.0.113.50")

    def guess(index: int) -> int:
        answer, _ = attempt(desk, "alice", f"wrong-{index}", address=f"198.51.100.{index}")
        return answer.status_code

    with ThreadPoolExecutor(max_workers=24) as pool:
        guesses = [pool.submit(guess, index) for index in range(48)]
        pages = [pool.submit(lambda: reader.get("/").status_code) for _ in range(12)]
        statuses = {future.result() for future in guesses}
        assert {future.result() for future in pages} == {200}
    assert statuses <= {401, 429, 503} and 429 in statuses  # locked after the free failures


def test_argon2_work_in_flight_is_bounded() -> None:
    """At most ARGON2_IN_FLIGHT verifications hold a slot; past ARGON2_WAITING waiting, the
    next one is told to retry at once (no thread is held while waiting)."""

    async def scenario() -> tuple[int, int]:
        guard = SignInGuard(repository=None)  # type: ignore[arg-type]  # the gate only
        active = peak = 0
        release = asyncio.Event()

        async def verify() -> None:
            nonlocal active, peak
            async with guard.verifying():
                active += 1
                peak = max(peak, active)
                await release.wait()
                active -= 1

        tasks = [
            asyncio.create_task(verify())
            for _ in range(throttle.ARGON2_IN_FLIGHT + throttle.ARGON2_WAITING)
        ]
        await asyncio.sleep(0)
        busy = 0
        try:
            async with guard.verifying():
                pass
        except SignInBusy:
            busy = 1
        release.set()
        await asyncio.gather(*tasks)
        return peak, busy

    peak, busy = asyncio.run(scenario())
    assert peak == throttle.ARGON2_IN_FLIGHT and busy == 1


def test_cookies_are_secure_behind_a_tls_proxy(desk: Desk) -> None:
    behind_tls = httpx.get(f"{desk.base}/login", headers={"X-Forwarded-Proto": "https"})
    assert "; secure" in behind_tls.headers["set-cookie"].lower()
    plain = httpx.get(f"{desk.base}/login")
    assert "secure" not in plain.headers["set-cookie"].lower()
