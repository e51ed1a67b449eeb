"""The read API on SQLite and PostgreSQL over a real server: token auth, cursor pagination,
filters, detail endpoints; and schemathesis fuzzing it against its own OpenAPI document."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.modes import GenerationMode

from tests.db_engines import ENGINES, database_url
from tests.desk import SCRIPT_TEXT, TEAM_TOKEN, Desk, running_desk, seed
from tests.site import serve

EXAMPLES = 25  # per operation and mode: the whole fuzz run stays within a few seconds
# A schema cannot say which opaque cursors exist (as it cannot say which ids exist, where 404
# is accepted): a well-formed but unknown cursor, or a date out of range, is a documented 400.
FUZZ_CONFIG = SchemathesisConfig.from_dict(
    {
        "operations": [
            {
                "include-path": path,
                "include-method": "GET",
                "checks": {
                    "positive_data_acceptance": {
                        "expected-statuses": ["2xx", "400", "401", "403", "404"]
                    }
                },
            }
            for path in ("/api/flags", "/api/entities/{entity_id}/timeline")
        ]
    }
)


@pytest.fixture(scope="module", params=ENGINES)
def desk(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Desk]:
    """One seeded database per engine, shared by this module's (read-only) tests."""
    directory = tmp_path_factory.mktemp(f"api-{request.param}")
    with database_url(request.param, directory) as url:
        with serve() as site:
            seed(site, url, directory)
        with running_desk(url) as running:
            yield running


def get(desk: Desk, path: str, token: str | None = None, **params: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token or desk.api_token}"}
    return httpx.get(f"{desk.base}{path}", params=params, headers=headers, timeout=10)


def test_every_endpoint_needs_a_known_token(desk: Desk) -> None:
    for path in ("/api/flags", "/api/flags/1", "/api/articles/1", "/api/feeds"):
        bare = httpx.get(f"{desk.base}{path}")
        assert bare.status_code == 401 and bare.headers["www-authenticate"] == "Bearer"
        assert get(desk, path, token="not-a-token").status_code == 401
        assert get(desk, path).status_code == 200
        assert get(desk, path, token=TEAM_TOKEN).status_code == 200


def test_cursor_walks_every_flag_once_in_a_stable_order(desk: Desk) -> None:
    everything = get(desk, "/api/flags").json()
    assert everything["next_cursor"] is None
    ids = [flag["id"] for flag in everything["items"]]
    assert len(ids) >= 4 and ids == sorted(ids)
    walked: list[int] = []
    cursor: str | None = None
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = get(desk, "/api/flags", **params).json()
        walked += [flag["id"] for flag in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert walked == ids


def test_flag_filters(desk: Desk) -> None:
    akhtar = get(desk, "/api/flags", entity="akhtar").json()["items"]
    assert [flag["entity"] for flag in akhtar] == ["Akhtar and Sons Private Limited"]
    assert akhtar[0]["duplicates"] and akhtar[0]["duplicates"][0].endswith("/ndc-copy")
    assert get(desk, "/api/flags", status="relevant").json()["items"] == []
    assert len(get(desk, "/api/flags", status="new").json()["items"]) >= 4
    assert get(desk, "/api/flags", since="2999-01-01T00:00:00Z").json()["items"] == []
    assert get(desk, "/api/flags", cursor="bm90LWEtY3Vyc29y").status_code == 400
    assert get(desk, "/api/flags", status="maybe").status_code == 422


def test_flag_and_article_details(desk: Desk) -> None:
    first = get(desk, "/api/flags").json()["items"][0]
    flag = get(desk, f"/api/flags/{first['id']}").json()
    assert flag["entity_info"]["name"] == first["entity"]
    assert flag["offsets"] and flag["history"] == []
    assert {copy["url"].rsplit("/", 1)[1] for copy in flag["appearances"]} == {"ndc", "ndc-copy"}
    article = get(desk, f"/api/articles/{first['article_id']}").json()
    assert article["url"] == first["url"] and first["id"] in article["flag_ids"]
    assert article["urls"]
    forum = next(
        item for item in get(desk, "/api/flags").json()["items"] if item["url"].endswith("/forum")
    )
    assert SCRIPT_TEXT in get(desk, f"/api/articles/{forum['article_id']}").json()["text"]
    assert get(desk, "/api/flags/99999").status_code == 404
    assert get(desk, "/api/articles/99999").status_code == 404


def test_feeds_match_the_cli_listing(desk: Desk) -> None:
    feeds = get(desk, "/api/feeds").json()
    listed = desk.repository.list_feeds()
    assert [feed["name"] for feed in feeds] == [feed["name"] for feed in listed]
    assert feeds[0]["articles"] == listed[0]["articles"] and feeds[0]["status"] == "ok"


def test_openapi_documents_the_read_api(desk: Desk) -> None:
    spec = httpx.get(f"{desk.base}/api/openapi.json").json()
    assert set(spec["paths"]) == {
        "/api/flags",
        "/api/flags/{flag_id}",
        "/api/articles/{article_id}",
        "/api/feeds",
        "/api/entities",
        "/api/entities/{entity_id}/timeline",
        "/feeds/flags.atom",
    }
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


# ---- schemathesis: the API against its own OpenAPI document --------------------------------


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_conforms_to_its_openapi_document(desk: Desk, mode: GenerationMode) -> None:
    """Generated requests (valid ones, then invalid ones) to every operation: no server
    error, every status and body as documented, invalid input refused."""
    schema = schemathesis.openapi.from_url(f"{desk.base}/api/openapi.json", config=FUZZ_CONFIG)
    auth = {"Authorization": f"Bearer {desk.api_token}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 7
    for operation in operations:
        if mode is GenerationMode.NEGATIVE and not (operation.query or operation.path_parameters):
            continue  # nothing to make invalid (GET /api/feeds takes no parameters)

        @given(case=operation.as_strategy(generation_mode=mode, headers=auth))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def conforms(case: Any) -> None:
            case.call_and_validate(headers=auth)

        conforms()
