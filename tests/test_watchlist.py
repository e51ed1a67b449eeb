"""Loading, validating and saving watchlist files (pipeline/match/watchlist.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core.config import SHIPPED_WATCHLIST
from pipeline.core.errors import ConfigError
from pipeline.match.aliases import load_rule_set
from pipeline.match.watchlist import Watchlist, WatchlistEntity, load_watchlist, save_watchlist

CANONICAL_NAMES = {
    "ofac-52049": "National Development Complex",
    "ofac-52051": "Akhtar and Sons Private Limited",
    "ofac-52052": "Affiliates International",
    "ofac-52053": "Rockside Enterprise",
    "eo-13382": "Executive Order 13382",
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "watchlist.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_watchlist_has_the_five_entities() -> None:
    watchlist = load_watchlist(SHIPPED_WATCHLIST)
    assert {e.id: e.name for e in watchlist.entities} == CANONICAL_NAMES
    assert watchlist.get("eo-13382").kind == "legal-reference"
    assert watchlist.get("ofac-52049").weak_aliases == ["NDC", "این ڈی سی"]  # and in Urdu
    assert all(e.programs == ["NPWMD"] for e in watchlist.entities)


def test_shipped_identifiers_keep_leading_zeros() -> None:
    watchlist = load_watchlist(SHIPPED_WATCHLIST)
    assert watchlist.get("ofac-52051").identifiers["tax_id"] == "0686371"
    assert watchlist.get("ofac-52052").identifiers["tax_id"] == "0287901"


def test_shipped_names_are_classified_as_the_issue_describes() -> None:
    rules = load_rule_set()
    assert rules.classify(rules.normalizer.words("Affiliates International")) == "common-words"
    assert rules.classify(rules.normalizer.words("Rockside Enterprise")) == "common-words"
    assert rules.classify(rules.normalizer.words("Rockside Trading")) == "common-words"
    assert rules.classify(rules.normalizer.words("NDC")) == "acronym"
    assert rules.classify(rules.normalizer.words("Akhtar and Sons")) == "distinctive"


def test_canonical_name_is_a_strong_name() -> None:
    entity = WatchlistEntity(id="x-1", name="Alpha Beta", strong_aliases=["Gamma", "Alpha Beta"])
    assert entity.all_strong_names == ["Alpha Beta", "Gamma"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("entities:\n  - id: a\n    name: A\n    colour: red\n", "entities[0].colour: unknown key"),
        ("entities:\n  - id: a\n    name: A\n    kind: company\n", "entities[0].kind:"),
        ("entities:\n  - id: a\n    name: '  '\n", "entities[0].name: must not be blank"),
        ("entities:\n  - id: 'bad id'\n    name: A\n", "entities[0].id:"),
        (
            "entities:\n  - {id: a, name: A}\n  - {id: a, name: B}\n",
            "entities[1].id: duplicate entity id 'a'",
        ),
        (
            "entities:\n  - id: a\n    name: A\n    identifiers: {tax_id: 686371}\n",
            "identifier values must be quoted strings",
        ),
        ("entities: [\n", "YAML syntax error"),
        ("- just a list\n", "the top level must be a mapping"),
    ],
)
def test_bad_files_name_the_key_path(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_watchlist(write(tmp_path, text))
    assert message in str(caught.value)
    assert "watchlist.yaml" in str(caught.value)


def test_a_bad_value_is_quoted_in_the_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"entities\[0\]\.kind: 'company' is not one of"):
        load_watchlist(write(tmp_path, "entities:\n  - {id: a, name: A, kind: company}\n"))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_watchlist(tmp_path / "nope.yaml")


def test_save_then_load_gives_the_same_watchlist(tmp_path: Path) -> None:
    watchlist = Watchlist(
        description="imported",
        entities=[
            WatchlistEntity(
                id="ofac-1",
                name="Café Ödeme Ltd",
                country="TR",
                identifiers={"tax_id": "0012"},
                weak_aliases=["CÖL"],
            ),
            WatchlistEntity(id="ofac-2", name="DOE, John", kind="person"),
        ],
    )
    path = tmp_path / "out.yaml"
    save_watchlist(watchlist, path)
    assert load_watchlist(path) == watchlist
    assert load_watchlist(SHIPPED_WATCHLIST) == load_watchlist(
        _copy(SHIPPED_WATCHLIST, tmp_path / "copy.yaml")
    )


def _copy(source: Path, target: Path) -> Path:
    save_watchlist(load_watchlist(source), target)
    return target
