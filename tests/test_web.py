"""The desk's pages over a real server: sign-in, sessions, CSRF, roles, the queue, a flag page
(escaping, highlighting, every URL, the audit trail), feeds, /healthz and /metrics."""

from __future__ import annotations

import asyncio
import os
import re
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from pipeline.desk.app import create_app
from pipeline.desk.auth import resolve_secret_key
from pipeline.desk.highlight import Piece, marked_pieces, snippet_pieces
from pipeline.desk.pages import span
from storage.db import Database
from storage.repository import Repository
from tests.desk import (
    PASSWORD,
    SCRIPT_TEXT,
    TEAM_TOKEN,
    Desk,
    desk_on_copy,
    seeded_database,
)

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def seeded_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database filled once by the real pipeline; each test gets a copy."""
    return seeded_database(tmp_path_factory.mktemp("seeded"))


@pytest.fixture
def desk(seeded_file: Path, tmp_path: Path) -> Iterator[Desk]:
    with desk_on_copy(seeded_file, tmp_path) as running:
        yield running


def client(desk: Desk) -> httpx.Client:
    return httpx.Client(base_url=desk.base, follow_redirects=False, timeout=10)


def signed_in(desk: Desk, name: str = "alice") -> tuple[httpx.Client, str]:
    """A client with a session, and the session's CSRF token."""
    browser = client(desk)
    token = CSRF.search(browser.get("/login").text)
    assert token is not None
    answer = browser.post(
        "/login", data={"csrf_token": token.group(1), "name": name, "password": PASSWORD}
    )
    assert answer.status_code == 303, answer.text
    page = browser.get("/")
    assert page.status_code == 200
    csrf = CSRF.search(page.text)
    assert csrf is not None
    return browser, csrf.group(1)


def flag_ids(desk: Desk, **params: str) -> list[int]:
    answer = httpx.get(
        f"{desk.base}/api/flags",
        params={"limit": "500", **params},
        headers={"Authorization": f"Bearer {desk.api_token}"},
    )
    return [flag["id"] for flag in answer.json()["items"]]


def flag_of(desk: Desk, entity: str) -> dict[str, object]:
    return next(
        flag
        for flag in (desk.repository.flag_detail(i) for i in flag_ids(desk))
        if flag["entity"] == entity and "forum" not in str(flag["url"])
    )


# ---- access --------------------------------------------------------------------------------


def test_pages_need_a_session(desk: Desk) -> None:
    browser = client(desk)
    for path in ("/", "/feeds", "/flags/1"):
        answer = browser.get(path)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/login?next=")


def test_wrong_password_and_forged_login_are_refused(desk: Desk) -> None:
    browser = client(desk)
    csrf = CSRF.search(browser.get("/login").text)
    assert csrf is not None
    wrong = browser.post(
        "/login", data={"csrf_token": csrf.group(1), "name": "alice", "password": "nope-nope"}
    )
    assert wrong.status_code == 401
    forged = client(desk).post("/login", data={"name": "alice", "password": PASSWORD})
    assert forged.status_code == 401  # no CSRF token from our own form: refused
    assert browser.get("/").status_code == 303


def test_session_cookie_is_httponly_and_samesite(desk: Desk) -> None:
    answer = client(desk).get("/login")
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert "script-src 'self'" in answer.headers["content-security-policy"]


def test_write_without_session_or_csrf_token_is_refused(desk: Desk) -> None:
    target = flag_ids(desk, status="new")[0]
    anonymous = client(desk).post(f"/flags/{target}/review", data={"status": "dismissed"})
    assert anonymous.status_code == 403
    browser, csrf = signed_in(desk)
    no_token = browser.post(f"/flags/{target}/review", data={"status": "dismissed"})
    assert no_token.status_code == 403
    wrong = browser.post(
        f"/flags/{target}/review",
        data={"status": "dismissed"},
        headers={"X-CSRF-Token": csrf[::-1]},
    )
    assert wrong.status_code == 403
    # A token from another session is no good either.
    _other, other_csrf = signed_in(desk, "oscar")
    stolen = browser.post(
        f"/flags/{target}/review", data={"status": "dismissed", "csrf_token": other_csrf}
    )
    assert stolen.status_code == 403
    assert desk.repository.flag_detail(target)["status"] == "new"
    assert desk.repository.flag_detail(target)["history"] == []


def test_observer_reads_but_cannot_decide(desk: Desk) -> None:
    browser, csrf = signed_in(desk, "oscar")
    target = flag_ids(desk)[0]
    page = browser.get(f"/flags/{target}")
    assert page.status_code == 200 and "Observers can read" in page.text
    answer = browser.post(
        f"/flags/{target}/review", data={"status": "relevant", "csrf_token": csrf}
    )
    assert answer.status_code == 403
    assert desk.repository.flag_detail(target)["status"] == "new"


def test_team_token_signs_in_as_team(desk: Desk) -> None:
    browser = client(desk)
    csrf = CSRF.search(browser.get("/login").text)
    assert csrf is not None
    answer = browser.post("/login", data={"csrf_token": csrf.group(1), "token": TEAM_TOKEN})
    assert answer.status_code == 303
    assert "team" in browser.get("/").text


def test_sign_in_redirects_only_to_this_site(desk: Desk) -> None:
    browser = client(desk)
    csrf = CSRF.search(browser.get("/login").text)
    assert csrf is not None
    data = {"csrf_token": csrf.group(1), "name": "alice", "password": PASSWORD}
    answer = browser.post("/login", data={**data, "next": "//evil.example/"})
    assert answer.headers["location"] == "/"


# ---- reviewing -----------------------------------------------------------------------------


def test_decision_is_stored_audited_and_leaves_the_queue(desk: Desk) -> None:
    browser, csrf = signed_in(desk)
    target = int(str(flag_of(desk, "Akhtar and Sons Private Limited")["id"]))
    before = browser.get("/").text
    assert f'class="chip status-new" data-flag="{target}"' in before
    answer = browser.post(
        f"/flags/{target}/review",
        data={"status": "relevant", "note": "supplier named by OFAC", "csrf_token": csrf},
    )
    assert answer.status_code == 303
    detail = desk.repository.flag_detail(target)
    assert (detail["status"], detail["reviewed_by"], detail["note"]) == (
        "relevant",
        "alice",
        "supplier named by OFAC",
    )
    assert [(h["from_status"], h["to_status"], h["reviewed_by"]) for h in detail["history"]] == [
        ("new", "relevant", "alice")
    ]
    # The queue is by story: the story stays while its other entities are new, and the
    # decided entity's chip says relevant.
    queue = browser.get("/").text
    assert f'class="chip status-relevant" data-flag="{target}"' in queue
    relevant = browser.get("/", params={"status": "relevant"}).text
    assert relevant.count('class="story-row"') == 1
    assert f'data-flag="{target}"' in relevant
    page = browser.get(f"/flags/{target}").text
    audit = page[page.index('id="audit"') :]
    assert "alice" in audit and "supplier named by OFAC" in audit


def test_a_note_alone_is_audited_too(desk: Desk) -> None:
    browser, csrf = signed_in(desk)
    target = flag_ids(desk)[0]
    for note in ("first look", "second look"):
        answer = browser.post(
            f"/flags/{target}/review",
            data={"status": "dismissed", "note": note, "csrf_token": csrf},
            headers={"Accept": "application/json"},
        )
        assert answer.json() == {"id": target, "status": "dismissed", "reviewed_by": "alice"}
    history = desk.repository.flag_detail(target)["history"]
    assert [(h["from_status"], h["to_status"], h["note"]) for h in history] == [
        ("new", "dismissed", "first look"),
        ("dismissed", "dismissed", "second look"),
    ]


# ---- the queue -----------------------------------------------------------------------------


def test_queue_counts_and_filters(desk: Desk) -> None:
    """One row per story (not per flag), counts of stories per status."""
    browser, _csrf = signed_in(desk)
    flags = [desk.repository.flag_detail(i) for i in flag_ids(desk)]
    stories = {flag["story_id"] for flag in flags}
    assert len(stories) < len(flags)  # the NDC story names several entities
    page = browser.get("/").text
    assert re.search(rf'data-count="new">{len(stories)}<', page)
    assert re.search(r'data-count="relevant">0<', page)
    assert page.count('class="story-row"') == len(stories)
    assert page.count('class="chip status-new"') == len(flags)  # every entity has its chip
    searched = browser.get("/", params={"q": "forum post"}).text
    assert searched.count('class="story-row"') == 1
    by_entity = browser.get("/", params={"entity": "akhtar"}).text
    assert by_entity.count('class="story-row"') == 1
    assert "Akhtar and Sons" in by_entity
    no_feed = browser.get("/", params={"feed": "No such feed"}).text
    assert no_feed.count('class="story-row"') == 0
    assert "Nothing matches these filters" in no_feed and "Clear filters" in no_feed
    assert "the queue is clear" not in no_feed
    future = browser.get("/", params={"since": "2999-01-01"}).text
    assert future.count('class="story-row"') == 0 and 'data-count="new">0<' in future
    assert browser.get("/", params={"until": "9999-12-31", "since": "x"}).status_code == 200
    # A LIKE wildcard typed by the reviewer is taken literally.
    assert browser.get("/", params={"q": "%"}).text.count('class="story-row"') == 0


# ---- a flag page ---------------------------------------------------------------------------


def test_flag_page_escapes_article_text(desk: Desk) -> None:
    browser, _csrf = signed_in(desk)
    hostile = next(
        i for i in flag_ids(desk) if "forum" in str(desk.repository.flag_detail(i)["url"])
    )
    assert SCRIPT_TEXT in desk.repository.desk_flag(hostile)["text"]  # stored as extracted
    page = browser.get(f"/flags/{hostile}").text
    assert "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;" in page
    assert "<script>document" not in page
    assert len(re.findall(r"<script\b", page)) == 1  # only our own /static/desk.js


def test_flag_page_marks_every_mention_and_lists_every_url(desk: Desk) -> None:
    browser, _csrf = signed_in(desk)
    flag = flag_of(desk, "National Development Complex")
    detail = desk.repository.desk_flag(int(str(flag["id"])))
    page = browser.get(f"/flags/{detail['id']}").text
    document = page[page.index('id="document"') :]
    marks = re.findall(r"<mark>(.*?)</mark>", document[: document.index("</div>")])
    assert len(marks) == detail["mentions"] == 2
    assert all(mark == "National Development Complex" for mark in marks)
    snippet = page[page.index('id="snippet"') :]
    assert "<mark>National Development Complex</mark>" in snippet[: snippet.index("</p>")]
    for appearance in detail["appearances"]:
        assert appearance["url"] in page
    assert {a["url"].rsplit("/", 1)[1] for a in detail["appearances"]} == {"ndc", "ndc-copy"}
    entity = detail["entity_record"]
    assert entity["source"] and entity["source"] in page
    for alias in entity["aliases"]:
        assert alias.replace("'", "&#39;") in page


def test_offsets_index_title_blank_line_text(desk: Desk) -> None:
    """The stored offsets point into title + "\\n\\n" + text: what the page highlights."""
    for flag_id in flag_ids(desk):
        detail = desk.repository.desk_flag(flag_id)
        document = f"{detail['title']}\n\n{detail['text']}"
        assert detail["document"] == document
        found = [document[start:end] for start, end in detail["offsets"]]
        assert found and found[0] == detail["matched"]


def test_missing_flag_is_404(desk: Desk) -> None:
    browser, _csrf = signed_in(desk)
    assert browser.get("/flags/99999").status_code == 404


# ---- feeds, health, metrics ----------------------------------------------------------------


def test_feeds_page_shows_health(desk: Desk) -> None:
    browser, _csrf = signed_in(desk)
    page = browser.get("/feeds").text
    feed = desk.repository.list_feeds()[0]
    assert "Loopback News" in page
    assert f'<td data-label="Articles" class="n">{feed["articles"]}</td>' in page
    assert f'<td data-label="Flags" class="n">{feed["flags"]}</td>' in page
    assert '<span class="badge ok">ok</span>' in page
    every = span(feed["interval_seconds"])  # the interval, as `feeds list` shows it
    assert f'<td data-label="Every" class="interval">{every}' in page
    assert 'class="last-new">never' not in page  # the last new item is known
    assert "overdue" not in page
    database = Database(desk.database_url)
    with database.engine.begin() as connection:  # the daemon stopped an hour ago
        connection.execute(
            text("UPDATE feed SET next_poll_at = :at"),
            {"at": (datetime.now(UTC) - timedelta(hours=1)).replace(tzinfo=None)},
        )
    database.dispose()
    assert '<span class="badge overdue">overdue</span>' in browser.get("/feeds").text


def test_healthz_and_metrics(desk: Desk) -> None:
    assert httpx.get(f"{desk.base}/healthz").json() == {"status": "ok"}
    metrics = httpx.get(f"{desk.base}/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert re.search(r'pipeline_flags\{status="new"\} [1-9]', metrics.text)


def test_healthz_is_503_when_the_database_is_down(tmp_path: Path) -> None:
    # Port 1 on loopback: nothing listens there.
    repository = Repository(Database("postgresql+psycopg://nobody@127.0.0.1:1/none"))
    app = create_app(repository, secret_key="k" * 32)

    async def ask() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://desk") as local:
            return await local.get("/healthz")

    assert asyncio.run(ask()).status_code == 503


# ---- pieces --------------------------------------------------------------------------------


def test_marked_pieces_clip_merge_and_keep_text() -> None:
    pieces = marked_pieces("abcdefghij", [[2, 4], [3, 6], [8, 40], [5, 5], [50, 60]])
    assert pieces == [
        Piece("ab", False),
        Piece("cdef", True),
        Piece("gh", False),
        Piece("ij", True),
    ]
    assert "".join(piece.text for piece in pieces) == "abcdefghij"


def test_snippet_pieces_mark_the_guillemets() -> None:
    assert snippet_pieces("…named «Akhtar» on") == [
        Piece("…named ", False),
        Piece("Akhtar", True),
        Piece(" on", False),
    ]
    assert snippet_pieces("no mark") == [Piece("no mark", False)]


def test_secret_key_file_is_private_and_stable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PIPELINE_SECRET_KEY", raising=False)
    config = tmp_path / "feeds.yaml"
    first = resolve_secret_key(config)
    assert first == resolve_secret_key(config) and len(first) >= 32
    mode = stat.S_IMODE(os.stat(tmp_path / "data" / "secret_key").st_mode)
    assert mode == 0o600
    monkeypatch.setenv("PIPELINE_SECRET_KEY", "from-the-environment")
    assert resolve_secret_key(config) == "from-the-environment"
