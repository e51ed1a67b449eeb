"""`pipeline flags export --format ftm` over a database filled by the real pipeline: every line
a FollowTheMoney entity the followthemoney model accepts (schema, property types, required
properties, references that resolve), and the `ftm` tool reads the stream back unchanged."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from followthemoney import model
from typer.testing import CliRunner

from pipeline.cli.app import app
from pipeline.core.clock import utcnow
from storage.db import Database
from storage.repository import Repository
from tests.desk import seeded_database

FTM = Path(sys.executable).parent / "ftm"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    directory = tmp_path_factory.mktemp("ftm")
    database = Database(f"sqlite:///{seeded_database(directory)}")
    repository = Repository(database)
    flags = repository.list_flags()
    ndc_story = next(f["story_id"] for f in flags if f["entity"] == "National Development Complex")
    relevant = [f["id"] for f in flags if f["story_id"] == ndc_story]
    repository.review_flags(
        {flag_id: "relevant" for flag_id in relevant}, note=None, by="alice", now=utcnow()
    )
    database.dispose()
    yield directory / "feeds.yaml"


def export(config: Path, *options: str) -> list[dict[str, Any]]:
    result = CliRunner().invoke(app, ["--config", str(config), "flags", "export", *options])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_every_line_is_a_valid_followthemoney_entity(seeded: Path) -> None:
    entities = export(seeded, "--format", "ftm", "--status", "all")
    ids = {entity["id"] for entity in entities}
    assert len(ids) == len(entities)  # each entity once
    for entity in entities:
        schema = model.get(entity["schema"])
        assert schema is not None, entity["schema"]
        assert schema.validate(entity) is None, (entity["id"], schema.validate(entity))
        proxy = model.get_proxy(entity, cleaned=False)
        for name in schema.required:
            assert proxy.get(name), (entity["id"], name)
        for prop, values in entity["properties"].items():
            if schema.get(prop) is not None and schema.get(prop).type.name == "entity":
                assert set(values) <= ids, (entity["id"], prop, values)  # references resolve


def test_articles_mentions_and_the_entity_with_its_identifiers(seeded: Path) -> None:
    entities = export(seeded, "--status", "all")
    by_schema: dict[str, list[dict[str, Any]]] = {}
    for entity in entities:
        by_schema.setdefault(entity["schema"], []).append(entity)
    database = Database(f"sqlite:///{seeded.parent / 'pipeline.db'}")
    try:
        flags = Repository(database).list_flags()
    finally:
        database.dispose()
    assert len(by_schema["Article"]) == len({flag["story_id"] for flag in flags})
    organisations = {flag["entity_id"] for flag in flags if flag["entity_id"] != "eo-13382"}
    assert organisations == {e["id"] for e in by_schema["Organization"]}
    mentions = by_schema["Mention"]
    assert len(mentions) == len([f for f in flags if f["entity_id"] != "eo-13382"])
    ndc = next(e for e in by_schema["Organization"] if e["id"] == "ofac-52049")
    assert ndc["properties"]["taxNumber"] == ["9010629"]
    assert ndc["properties"]["country"] == ["pk"] and ndc["properties"]["program"] == ["NPWMD"]
    assert "NDC" in ndc["properties"]["alias"]
    sanction = next(e for e in by_schema["Sanction"] if e["properties"]["entity"] == ["ofac-52049"])
    assert sanction["properties"]["authority"] == ["OFAC"]
    assert {m["properties"]["resolved"][0] for m in mentions} == organisations
    copy = next(a for a in by_schema["Article"] if len(a["properties"]["sourceUrl"]) == 2)
    assert {url.rsplit("/", 1)[1] for url in copy["properties"]["sourceUrl"]} == {"ndc", "ndc-copy"}
    assert copy["properties"]["language"] == ["eng"]
    assert "Executive Order 13382" in copy["properties"].get("keywords", [])  # a legal reference


def test_status_filter_and_the_ftm_tool_reads_it_back(seeded: Path, tmp_path: Path) -> None:
    relevant = export(seeded)  # relevant flags by default
    assert {e["schema"] for e in relevant} >= {"Article", "Mention", "Organization"}
    assert len([e for e in relevant if e["schema"] == "Article"]) == 1
    assert export(seeded, "--status", "dismissed") == []
    stream = tmp_path / "export.ftm.json"
    stream.write_text("".join(json.dumps(e) + "\n" for e in relevant), encoding="utf-8")
    checked = subprocess.run(
        [str(FTM), "validate", "-i", str(stream)], capture_output=True, text=True, check=True
    )
    back = [json.loads(line) for line in checked.stdout.splitlines()]
    assert {e["id"] for e in back} == {e["id"] for e in relevant}
