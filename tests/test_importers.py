"""Watchlist imports (pipeline/match/importers/) on the real list files of
../shared/corpora/watchlists.

Expected figures are counted here from the raw files with the csv and json modules, not taken
from the importers.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from pipeline.cli.app import app
from pipeline.core.config import SHIPPED_WATCHLIST
from pipeline.core.errors import ConfigError
from pipeline.match.aliases import load_rule_set
from pipeline.match.importers import ImportOutcome, import_list, ofac, resolve_target
from pipeline.match.importers.common import ImportFilter, ImportReport
from pipeline.match.importers.countries import load_countries
from pipeline.match.matcher import Matcher
from pipeline.match.watchlist import Watchlist, WatchlistEntity, load_watchlist
from tests import corpora

LISTS = corpora.CORPORA / "watchlists"
OFAC_SMALL = LISTS / "ofac-small"
OFAC_2019 = LISTS / "ofac-2019"
ZALA_FTM = LISTS / "opensanctions" / "zala.entities.ftm.json"
T1_FTM = LISTS / "opensanctions" / "t1.entities.ftm.json"
PARTY_SCHEMAS = {"Person", "Organization", "Company", "LegalEntity", "PublicBody", "Vessel"}
QUOTED = re.compile(r"[af]\.k\.a\. '(.+?)'(?=\s*(?:[;.]|$))")

pytestmark = corpora.needs(LISTS)

# The four OFAC rows of 18 Dec 2024 (program NPWMD) in the legacy CSV layout, written from the
# facts of the issue (names, a.k.a.s, tax ids, addresses); alt_num and add_num are placeholders.
DEC_2024_SDN = """\
52049,"NATIONAL DEVELOPMENT COMPLEX",-0- ,"NPWMD",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"Tax ID No. 9010629 (Pakistan); a.k.a. 'NDC'."
52051,"AKHTAR AND SONS PRIVATE LIMITED",-0- ,"NPWMD",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"Organization Established Date 1995; Tax ID No. 0686371 (Pakistan); a.k.a. 'AKHTAR AND SONS'."
52052,"AFFILIATES INTERNATIONAL",-0- ,"NPWMD",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"Organization Established Date 1995; Tax ID No. 0287901 (Pakistan)."
52053,"ROCKSIDE ENTERPRISE",-0- ,"NPWMD",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"Tax ID No. 1295859 (Pakistan)."
"""  # noqa: E501 - OFAC rows are one line each
DEC_2024_ALT = """\
52049,1,"aka","NATIONAL DEVELOPMENT CENTRE",-0-
52049,2,"aka","NATIONAL DEFENSE COMPLEX",-0-
52051,3,"aka","AKHTAR AND SONS PVT LTD.",-0-
52052,4,"aka","MS AFFILIATES INTERNATIONAL",-0-
52053,5,"aka","ROCKSIDE TRADING",-0-
"""
DEC_2024_ADD = """\
52049,1,"NESCOM Complex, H-11/4","Islamabad","Pakistan",-0-
52049,2,-0- ,"Fateh Jang","Pakistan",-0-
52051,3,"Emerald Tower, Main Clifton Road","Karachi","Pakistan",-0-
52052,4,"Timber Pond, Keamari","Karachi","Pakistan",-0-
52053,5,"DHA Phase 5","Karachi","Pakistan",-0-
52053,6,"Emerald Tower, Main Clifton Road","Karachi","Pakistan",-0-
"""


# ---- helpers -------------------------------------------------------------------------------


def run_import(
    source: Path, fmt: str, target: Path, seed: Path = SHIPPED_WATCHLIST, **filters: Any
) -> ImportOutcome:
    return import_list(source, fmt, target=target, seed=seed, **filters)


def latin(names: list[str]) -> list[str]:
    """The names not written in Arabic script."""
    return [name for name in names if not re.search("[\u0600-\u06ff]", name)]


def by_id(path: Path) -> dict[str, WatchlistEntity]:
    return {entity.id: entity for entity in load_watchlist(path).entities}


def fold(names: Any) -> set[str]:
    return {" ".join(name.split()).casefold() for name in names}


def names_of(entity: WatchlistEntity) -> set[str]:
    return fold([entity.name, *entity.strong_aliases, *entity.weak_aliases])


def raw_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = [[cell.strip() for cell in row] for row in csv.reader(handle)]
    return [row for row in rows if any(cell.strip("\x1a") for cell in row)]


def empty(cell: str) -> bool:
    return cell in ("-0-", "-0", "")


def raw_ofac(folder: Path) -> dict[str, dict[str, Any]]:
    """ent_num -> the row's facts, read straight from the four CSV files."""
    rows: dict[str, dict[str, Any]] = {
        row[0]: {"row": row, "alt": [], "add": [], "remarks": row[11]}
        for row in raw_rows(folder / "sdn.csv")
    }
    for row in raw_rows(folder / "alt.csv"):
        if row[0] in rows:
            rows[row[0]]["alt"].append(row[3])
    for row in raw_rows(folder / "add.csv"):
        if row[0] in rows:
            rows[row[0]]["add"].append(row)
    for row in raw_rows(folder / "sdn_comments.csv"):
        if len(row) == 2 and row[0] in rows:
            rows[row[0]]["remarks"] += row[1]
    return rows


def programs_of(row: list[str]) -> set[str]:
    return {p.strip(" []") for p in row[3].split("] [")}


def ftm_records(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def ftm_program_ids(path: Path) -> dict[str, set[str]]:
    """Party id -> the programId of its Sanction entities and its own programId."""
    programs: defaultdict[str, set[str]] = defaultdict(set)
    for record in ftm_records(path):
        properties = record["properties"]
        programs[record["id"]].update(properties.get("programId", []))
        if record["schema"] == "Sanction":
            for party in properties.get("entity", []):
                programs[party].update(properties.get("programId", []))
    return programs


def dec_2024_files(folder: Path) -> Path:
    folder.mkdir()
    (folder / "sdn.csv").write_text(DEC_2024_SDN, encoding="utf-8")
    (folder / "alt.csv").write_text(DEC_2024_ALT, encoding="utf-8")
    (folder / "add.csv").write_text(DEC_2024_ADD, encoding="utf-8")
    return folder / "sdn.csv"


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def config_file(tmp_path: Path, watchlist: Path | None = None) -> Path:
    path = tmp_path / "feeds.yaml"
    lines = [f"database: sqlite:///{tmp_path / 'pipeline.db'}"]
    if watchlist is not None:
        lines.append(f"watchlist: {watchlist}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# ---- OFAC legacy CSV -----------------------------------------------------------------------


def test_ofac_small_set_every_row_alias_and_address(tmp_path: Path) -> None:
    target = tmp_path / "w.yaml"
    outcome = run_import(OFAC_SMALL / "sdn.csv", "ofac-csv", target)
    raw = raw_ofac(OFAC_SMALL)
    entities = by_id(target)
    assert outcome.report.records == len(raw) == 17
    assert outcome.report.malformed == 0
    assert outcome.counts.added == len(raw)
    assert {f"ofac-{n}" for n in raw} <= set(entities)
    for ent_num, facts in raw.items():
        entity = entities[f"ofac-{ent_num}"]
        row = facts["row"]
        assert entity.name == row[1]
        assert entity.kind == ("person" if row[2] == "individual" else "organisation")
        assert set(entity.programs) == programs_of(row)
        assert fold(facts["alt"]) <= fold([entity.name, *entity.strong_aliases])
        assert fold(QUOTED.findall(facts["remarks"])) <= fold(entity.weak_aliases)
        with_street_or_city = [a for a in facts["add"] if not (empty(a[2]) and empty(a[3]))]
        assert len(entity.addresses) == len(with_street_or_city)
    # the five shipped entities are still there: a new file starts from the configured list
    assert set(by_id(SHIPPED_WATCHLIST)) <= set(entities)


def test_ofac_weak_aliases_come_from_remarks_strong_from_alt_csv(tmp_path: Path) -> None:
    target = tmp_path / "w.yaml"
    run_import(OFAC_SMALL / "sdn.csv", "ofac-csv", target)
    entities = by_id(target)
    aircraft_maker = entities["ofac-11195"]
    assert "HESA TRADE CENTER" in aircraft_maker.strong_aliases
    assert {"HESA", "HTC", "IAMI", "SHAHIN CO."} <= set(aircraft_maker.weak_aliases)
    assert not set(aircraft_maker.weak_aliases) & set(aircraft_maker.strong_aliases)
    # sdn_comments.csv continues a Remarks field cut mid-word; its a.k.a. is found
    assert entities["ofac-33151"].weak_aliases == ["SUCCESSFUL EXCHANGE"]
    # an alt.csv row of a party that is not in sdn.csv is not given to another party
    assert "KARADH AL-HASSAN" not in names_of(entities["ofac-10278"])


def test_ofac_kinds_identifiers_countries(tmp_path: Path) -> None:
    target = tmp_path / "w.yaml"
    run_import(OFAC_SMALL / "sdn.csv", "ofac-csv", target)
    entities = by_id(target)
    vessel, aircraft = entities["ofac-40716"], entities["ofac-48727"]
    assert vessel.kind == "organisation" and vessel.source == "OFAC SDN 40716 (vessel)"
    assert vessel.identifiers == {"imo": "9486910"} and vessel.country == "IR"  # the flag
    assert aircraft.source == "OFAC SDN 48727 (aircraft)"
    assert aircraft.programs == ["SDGT", "NPWMD", "IRGC", "IFSR"]
    person = entities["ofac-48603"]
    assert person.kind == "person" and person.country == "RU"
    assert person.identifiers == {
        "passport": "2018278055",
        "passport_2": "2006801524",
        "tax_id": "366110340670",
    }
    steel = entities["ofac-44525"]
    assert steel.identifiers["tax_id"] == "52-2083095"
    assert steel.country == "United States"  # no aliases.yaml entry for US: stored by name
    # postal codes and number-only parts are dropped: "22, Rue Henri-Mussard", "Geneva 1208"
    assert entities["ofac-12685"].addresses[1] == "Rue Henri-Mussard, Geneva, Switzerland"


def test_person_given_as_last_first_matches_first_last(tmp_path: Path) -> None:
    target = tmp_path / "w.yaml"
    run_import(OFAC_SMALL / "sdn.csv", "ofac-csv", target)
    moreno = by_id(target)["ofac-15102"]
    assert moreno.name == "MORENO, Daniel" and moreno.kind == "person"
    matcher = Matcher(load_watchlist(target))
    found = matcher.match("", "Prosecutors said Daniel Moreno ran the network from Corozal.")
    assert [(m.entity_id, m.matched) for m in found] == [("ofac-15102", "Daniel Moreno")]
    found = matcher.match("", "Police named Dmitry Khoroshev as the LockBit administrator.")
    assert [m.entity_id for m in found] == ["ofac-48603"]
    assert matcher.match("", "Moreno scored twice; Daniel was booked.") == []


def test_npwmd_pakistani_entities_in_the_small_set(tmp_path: Path) -> None:
    raw = raw_ofac(OFAC_SMALL)
    expected = {
        f"ofac-{n}"
        for n, facts in raw.items()
        if "NPWMD" in programs_of(facts["row"]) and any(a[4] == "Pakistan" for a in facts["add"])
    }
    target = tmp_path / "w.yaml"
    outcome = run_import(
        OFAC_SMALL / "sdn.csv",
        "ofac-csv",
        target,
        seed=tmp_path / "none.yaml",
        programs=["NPWMD"],
        countries=["PK"],
    )
    assert set(by_id(target)) == expected and outcome.counts.added == len(expected)
    shipped = by_id(SHIPPED_WATCHLIST)
    for entity_id in expected & set(shipped):  # the 18 Dec 2024 rows, when the set has them
        assert fold([by_id(target)[entity_id].name]) == fold([shipped[entity_id].name])


def test_dec_2024_rows_give_the_shipped_entities(tmp_path: Path) -> None:
    sdn = dec_2024_files(tmp_path / "ofac")
    target = tmp_path / "w.yaml"
    run_import(sdn, "ofac-csv", target, seed=tmp_path / "none.yaml", countries=["Pakistan"])
    imported, shipped = by_id(target), by_id(SHIPPED_WATCHLIST)
    assert set(imported) == {"ofac-52049", "ofac-52051", "ofac-52052", "ofac-52053"}
    for entity_id, entity in imported.items():
        expected = shipped[entity_id]
        # The shipped list adds curated Urdu names and addresses (issue 18); OFAC has none.
        assert fold([*entity.all_strong_names]) == fold(latin(expected.all_strong_names))
        assert fold(entity.weak_aliases) == fold(latin(expected.weak_aliases))
        assert entity.identifiers["tax_id"] == expected.identifiers["tax_id"]
        assert entity.addresses == latin(expected.addresses)
        assert (entity.country, entity.programs) == ("PK", ["NPWMD"])


def test_merge_into_the_shipped_list_keeps_curated_fields(tmp_path: Path) -> None:
    sdn = dec_2024_files(tmp_path / "ofac")
    target = tmp_path / "w.yaml"
    outcome = run_import(sdn, "ofac-csv", target)  # a new file: starts from the shipped list
    assert outcome.started_from == SHIPPED_WATCHLIST
    assert (outcome.counts.added, outcome.counts.updated + outcome.counts.unchanged) == (0, 4)
    merged, shipped = by_id(target), by_id(SHIPPED_WATCHLIST)
    ndc = merged["ofac-52049"]
    assert ndc.name == "National Development Complex"  # not the list's capitals
    assert ndc.context == shipped["ofac-52049"].context
    assert ndc.negative_context == shipped["ofac-52049"].negative_context
    assert merged["eo-13382"] == shipped["eo-13382"]
    matcher = Matcher(load_watchlist(target))
    text = (
        "Washington blacklisted the NDC, which builds launchers and rocket motors for "
        "Pakistan's Shaheen ballistic missiles, under Executive Order 13382."
    )
    assert {m.entity_id for m in matcher.match("", text)} == {"ofac-52049", "eo-13382"}
    assert matcher.match("", "Ghana's NDC won the election in Accra.") == []


def test_reimport_updates_never_duplicates(tmp_path: Path) -> None:
    target = tmp_path / "w.yaml"
    run_import(ZALA_FTM, "opensanctions-ftm", target)
    first = run_import(OFAC_SMALL / "sdn.csv", "ofac-csv", target)
    text = target.read_text(encoding="utf-8")
    again = run_import(OFAC_SMALL / "sdn.csv", "ofac-csv", target)
    assert (again.counts.added, again.counts.updated, again.counts.unchanged) == (0, 0, 17)
    assert target.read_text(encoding="utf-8") == text and again.total == first.total
    ids = [entity.id for entity in load_watchlist(target).entities]
    assert len(ids) == len(set(ids))
    assert any(entity_id.startswith("os-") for entity_id in ids)  # other sources are kept
    # a changed row updates its entity in place
    folder = tmp_path / "ofac"
    shutil.copytree(OFAC_SMALL, folder)
    sdn = (folder / "sdn.csv").read_text(encoding="utf-8")
    (folder / "sdn.csv").write_text(sdn.replace('"SDNTK"', '"SDNTK] [SDGT"'), encoding="utf-8")
    changed = run_import(folder / "sdn.csv", "ofac-csv", target)
    assert (changed.counts.added, changed.counts.updated, changed.counts.unchanged) == (0, 1, 16)
    assert by_id(target)["ofac-15102"].programs == ["SDNTK", "SDGT"]


def test_program_and_country_filters(tmp_path: Path) -> None:
    raw = raw_ofac(OFAC_SMALL)
    npwmd = {f"ofac-{n}" for n, f in raw.items() if "NPWMD" in programs_of(f["row"])}
    iran = {
        f"ofac-{n}"
        for n, f in raw.items()
        if any(a[4] == "Iran" for a in f["add"])
        or f["row"][9] == "Iran"  # a vessel's flag
        or re.search(r"(nationality|citizen) Iran\b", f["remarks"])
    }
    assert len(npwmd) == 2 and len(iran) == 2 and npwmd != iran
    for programs, countries, expected in [
        (["npwmd"], [], npwmd),
        ([], ["IR"], iran),
        ([], ["Iran"], iran),
        (["NPWMD"], ["ir"], npwmd & iran),
    ]:
        target = tmp_path / f"{len(programs)}-{countries}.yaml"
        outcome = run_import(
            OFAC_SMALL / "sdn.csv",
            "ofac-csv",
            target,
            seed=tmp_path / "none.yaml",
            programs=programs,
            countries=countries,
        )
        assert set(by_id(target)) == expected
        assert sum(outcome.report.skipped.values()) == len(raw) - len(expected)


def test_full_2019_snapshot_streams_every_row() -> None:
    raw = raw_ofac(OFAC_2019)
    report = ImportReport(source=OFAC_2019 / "sdn.csv")
    countries = load_countries(frozenset(load_rule_set().rules.countries))
    entities = {
        e.id: e
        for e in ofac.read_entities(OFAC_2019 / "sdn.csv", ImportFilter(), report, countries)
    }
    assert report.records == len(raw) == len(entities) > 7000
    assert report.malformed == 0
    persons = sum(1 for facts in raw.values() if facts["row"][2] == "individual")
    assert sum(1 for e in entities.values() if e.kind == "person") == persons
    names = weak = 0
    for ent_num, facts in raw.items():
        entity = entities[f"ofac-{ent_num}"]
        assert fold(facts["alt"]) <= fold([entity.name, *entity.strong_aliases])
        assert fold(QUOTED.findall(facts["remarks"])) <= names_of(entity)
        names += 1 + len(entity.strong_aliases) + len(entity.weak_aliases)
        weak += len(entity.weak_aliases)
    alt_rows = sum(len(facts["alt"]) for facts in raw.values())
    quoted = sum(len(QUOTED.findall(facts["remarks"])) for facts in raw.values())
    assert alt_rows == 9682 and quoted > 2000
    # repeated spellings collapse: a few names fewer than rows + alt rows + quoted names
    assert len(raw) + alt_rows + quoted - 200 < names <= len(raw) + alt_rows + quoted
    assert weak > 1900


def test_a_malformed_row_is_counted_not_fatal(tmp_path: Path) -> None:
    folder = tmp_path / "ofac"
    shutil.copytree(OFAC_SMALL, folder)
    with (folder / "sdn.csv").open("a", encoding="utf-8") as handle:
        handle.write('99999,"SHORT ROW","individual"\n')
        handle.write('abc,"NOT A NUMBER",-0- ,"SDGT",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n')
    with (folder / "sdn.csv").open("ab") as binary:  # a Windows-1252 byte, as old files have
        binary.write(
            b'99998,"CAF\xc9 DU NORD",-0- ,"SDGT",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n'
        )
    target = tmp_path / "w.yaml"
    config = config_file(tmp_path, tmp_path / "w.yaml")
    result = cli(
        "--config",
        str(config),
        "watchlist",
        "import",
        str(folder / "sdn.csv"),
        "--format",
        "ofac-csv",
    )
    assert result.exit_code == 0, result.stderr
    assert "warning: 2 malformed records skipped" in result.stderr
    assert "sdn.csv line 18: 3 fields, expected 12" in result.stderr
    assert "sdn.csv line 19: ent_num 'abc' is not a number" in result.stderr
    assert "18 added" in result.stdout
    assert by_id(target)["ofac-99998"].name == "CAFÉ DU NORD"


# ---- OpenSanctions -------------------------------------------------------------------------


def test_ftm_parties_aliases_and_programs(tmp_path: Path) -> None:
    records = list(ftm_records(ZALA_FTM))
    parties = [r for r in records if r["schema"] in PARTY_SCHEMAS and r.get("target") is not False]
    target = tmp_path / "w.yaml"
    outcome = run_import(ZALA_FTM, "opensanctions-ftm", target, seed=tmp_path / "none.yaml")
    entities = by_id(target)
    assert outcome.report.records == len(records)
    assert set(entities) == {f"os-{r['id']}" for r in parties} and len(parties) == 14
    programs = ftm_program_ids(ZALA_FTM)
    for record in parties:
        entity = entities[f"os-{record['id']}"]
        props = record["properties"]
        strong = props.get("name", []) + props.get("alias", []) + props.get("previousName", [])
        assert entity.name == record["caption"]
        assert fold(strong) <= fold(entity.all_strong_names)
        weak_only = fold(props.get("weakAlias", [])) - fold(strong)
        assert weak_only <= fold(entity.weak_aliases)
        assert programs[record["id"]] <= set(entity.programs)
        assert entity.kind == ("person" if record["schema"] == "Person" else "organisation")
    zala = entities["os-NK-abdzbEBkqyT29GyREbiURZ"]
    assert "Zala Aero Group" in zala.all_strong_names and "ZALA" in zala.weak_aliases
    assert zala.identifiers["tax_id"] == "1841015504" and zala.country == "RU"
    osetrova = entities["os-NK-2Tbri3s6GgNtAwsSXh4qpL"]
    assert osetrova.kind == "person"
    assert "maria aleksandrovna zakharova" in fold(osetrova.strong_aliases)  # a previousName
    # every address part has a letter: a bare "3" or postcode would corroborate anything
    assert all(re.search(r"[^\W\d_]", p) for a in zala.addresses for p in a.split(","))


def test_ftm_filters(tmp_path: Path) -> None:
    records = list(ftm_records(ZALA_FTM))
    programs = ftm_program_ids(ZALA_FTM)
    parties = [r for r in records if r["schema"] in PARTY_SCHEMAS and r.get("target") is not False]
    eu = {f"os-{r['id']}" for r in parties if "EU-UKR" in programs[r["id"]]}
    assert 0 < len(eu) < len(parties)
    target = tmp_path / "eu.yaml"
    run_import(
        ZALA_FTM, "opensanctions-ftm", target, seed=tmp_path / "none.yaml", programs=["eu-ukr"]
    )
    assert set(by_id(target)) == eu
    kenya = {
        f"os-{r['id']}"
        for r in ftm_records(T1_FTM)
        if r["schema"] in PARTY_SCHEMAS and "ke" in r["properties"].get("country", [])
    }
    target = tmp_path / "ke.yaml"
    run_import(
        T1_FTM, "opensanctions-ftm", target, seed=tmp_path / "none.yaml", countries=["Kenya"]
    )
    assert set(by_id(target)) == kenya


SIMPLE_CSV_HEADER = [
    "id", "schema", "name", "aliases", "birth_date", "countries", "addresses", "identifiers",
    "sanctions", "phones", "emails", "program_ids", "dataset", "first_seen", "last_seen",
    "last_change",
]  # fmt: skip


def targets_simple_csv(ftm: Path, path: Path) -> Path:
    """The targets.simple.csv of an FtM file, written by the rules of OpenSanctions' exporter
    (zavod/exporters/simplecsv.py): targets only, caption as name, every other name an alias,
    multi-valued cells joined by ';', sanctions as "program - reason"."""

    def cell(values: Any) -> str:
        out = io.StringIO()
        writer = csv.writer(out, dialect=csv.unix_dialect, delimiter=";", lineterminator="")
        writer.writerow(sorted(set(values)))
        return out.getvalue()

    def all_of(props: dict[str, list[str]], *keys: str) -> list[str]:
        return [value for key in keys for value in props.get(key, [])]

    records = list(ftm_records(ftm))
    sanctions: defaultdict[str, list[dict[str, list[str]]]] = defaultdict(list)
    for record in records:
        if record["schema"] == "Sanction":
            for party in record["properties"].get("entity", []):
                sanctions[party].append(record["properties"])
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, SIMPLE_CSV_HEADER, dialect=csv.unix_dialect, restval="")
        writer.writeheader()
        for record in records:
            props, listed = record["properties"], sanctions[record["id"]]
            if record["schema"] not in PARTY_SCHEMAS or record.get("target") is False:
                continue
            names = all_of(props, "name", "alias", "weakAlias", "previousName", "abbreviation")
            countries = all_of(props, "country", "jurisdiction", "nationality", "citizenship")
            writer.writerow(
                {
                    "id": record["id"],
                    "schema": record["schema"],
                    "name": record["caption"],
                    "aliases": cell(n for n in names if n != record["caption"]),
                    "countries": cell(countries),
                    "addresses": cell(props.get("address", [])),
                    "identifiers": cell(props.get("taxNumber", [])),
                    "sanctions": cell(" - ".join(all_of(s, "program", "reason")) for s in listed),
                    # newer exports' program_ids: the party's and its sanctions' programIds
                    "program_ids": cell(props.get("programId", []) + all_of_each(listed)),
                    "dataset": cell(record["datasets"]),
                }
            )
    return path


def all_of_each(sanctions: list[dict[str, list[str]]]) -> list[str]:
    return [program for sanction in sanctions for program in sanction.get("programId", [])]


def test_targets_simple_csv_gives_the_same_entities_as_ftm(tmp_path: Path) -> None:
    simple = targets_simple_csv(ZALA_FTM, tmp_path / "targets.simple.csv")
    from_ftm, from_csv = tmp_path / "ftm.yaml", tmp_path / "csv.yaml"
    run_import(ZALA_FTM, "opensanctions-ftm", from_ftm, seed=tmp_path / "none.yaml")
    outcome = run_import(simple, "opensanctions-csv", from_csv, seed=tmp_path / "none.yaml")
    ftm, simple_csv = by_id(from_ftm), by_id(from_csv)
    with simple.open(encoding="utf-8", newline="") as handle:
        assert outcome.report.records == len(list(csv.reader(handle))) - 1
    assert set(simple_csv) == set(ftm)
    for entity_id, entity in simple_csv.items():
        assert entity.name == ftm[entity_id].name
        assert names_of(entity) == names_of(ftm[entity_id])
        assert entity.weak_aliases == []  # the simple CSV cannot tell weak aliases apart
        assert set(entity.programs) == set(ftm[entity_id].programs)
        assert entity.country == ftm[entity_id].country
    # the same ids: importing one format after the other updates, never duplicates
    again = run_import(simple, "opensanctions-csv", from_ftm, seed=tmp_path / "none.yaml")
    assert again.counts.added == 0 and again.total == len(ftm)


# ---- the imported list in use --------------------------------------------------------------


def test_imported_watchlist_loads_and_flags_with_context(tmp_path: Path) -> None:
    target = tmp_path / "w.yaml"
    run_import(OFAC_SMALL / "sdn.csv", "ofac-csv", target)
    watchlist = load_watchlist(target)
    assert isinstance(watchlist, Watchlist)
    matcher = Matcher(watchlist)
    in_context = (
        "The drone maker HTC, part of Iran's aircraft industry in Esfahan under the Ministry "
        "of Defense, supplied parts, the Treasury said when it announced the sanctions."
    )
    found = matcher.match("Iranian drones", in_context)
    assert [(m.entity_id, m.rule, m.matched) for m in found] == [
        ("ofac-11195", "weak-alias+context", "HTC")
    ]
    assert "esfahan" in json.dumps(found[0].why).casefold()
    assert matcher.match("Phones", "HTC released a new phone on Tuesday.") == []
    ship = matcher.match("", "The tanker Makran, an Iranian naval vessel, IMO 9486910, sailed.")
    assert [m.entity_id for m in ship] == ["ofac-40716"]


def test_unicode_names_survive_save_and_load(tmp_path: Path) -> None:
    target = tmp_path / "w.yaml"
    run_import(ZALA_FTM, "opensanctions-ftm", target, seed=tmp_path / "none.yaml")
    zala = by_id(target)["os-NK-abdzbEBkqyT29GyREbiURZ"]
    assert "ЗАЛА АЭРО" in zala.strong_aliases and "ザラ" in zala.strong_aliases
    with target.open(encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    assert Watchlist.model_validate(raw) == load_watchlist(target)
    assert not list(tmp_path.glob(".*.partial"))  # the atomic write left nothing behind


# ---- the CLI -------------------------------------------------------------------------------


def test_cli_refuses_to_write_the_shipped_watchlist(tmp_path: Path) -> None:
    config = config_file(tmp_path)  # no watchlist key: the shipped file
    shipped_before = SHIPPED_WATCHLIST.read_bytes()
    result = cli(
        "--config",
        str(config),
        "watchlist",
        "import",
        str(OFAC_SMALL / "sdn.csv"),
        "--format",
        "ofac-csv",
    )
    assert result.exit_code == 2
    assert "--output PATH" in result.stderr and "`watchlist:` in feeds.yaml" in result.stderr
    result = cli(
        "--config",
        str(config),
        "watchlist",
        "import",
        str(OFAC_SMALL / "sdn.csv"),
        "--format",
        "ofac-csv",
        "--output",
        str(SHIPPED_WATCHLIST),
    )
    assert result.exit_code == 2 and "shipped watchlist" in result.stderr
    assert SHIPPED_WATCHLIST.read_bytes() == shipped_before


def test_cli_import_end_to_end(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    output = tmp_path / "my-watchlist.yaml"
    args = [
        "--config",
        str(config),
        "watchlist",
        "import",
        str(OFAC_SMALL / "sdn.csv"),
        "--format",
        "ofac-csv",
        "--program",
        "NPWMD",
        "--output",
        str(output),
    ]
    result = cli(*args)
    assert result.exit_code == 0, result.stderr
    assert "read 17 records from sdn.csv: 2 entities, 15 skipped, 0 malformed" in result.stdout
    assert "2 added, 0 updated, 0 unchanged (7 entities" in result.stdout
    assert f"point `watchlist:` in feeds.yaml at {output}" in result.stdout
    assert "pipeline rescan" in result.stdout
    assert cli(*args).stdout.count("0 added, 0 updated, 2 unchanged") == 1
    # once feeds.yaml points at the file, the import goes there without --output
    config = config_file(tmp_path, output)
    result = cli(
        "--config",
        str(config),
        "watchlist",
        "import",
        str(ZALA_FTM),
        "--format",
        "opensanctions-ftm",
        "--country",
        "RU",
    )
    assert result.exit_code == 0, result.stderr
    assert "next: run `pipeline rescan`" in result.stdout
    assert len(load_watchlist(output).entities) > 7
    assert cli("--config", str(config), "feeds", "check").exit_code == 0


@pytest.mark.parametrize(
    ("source", "fmt", "message"),
    [
        (OFAC_SMALL / "sdn.csv", "opensanctions-ftm", "it looks like --format ofac-csv"),
        (ZALA_FTM, "ofac-csv", "it looks like --format opensanctions-ftm"),
        (ZALA_FTM, "opensanctions-csv", "it looks like --format opensanctions-ftm"),
        (OFAC_SMALL / "alt.csv", "ofac-csv", "pass sdn.csv"),
        (LISTS / "un" / "UN_consolidated.xml", "ofac-csv", "an XML file"),
        (LISTS / "nope.csv", "ofac-csv", "file not found"),
    ],
)
def test_cli_wrong_format_or_file_exits_2(
    tmp_path: Path, source: Path, fmt: str, message: str
) -> None:
    config = config_file(tmp_path, tmp_path / "w.yaml")
    result = cli("--config", str(config), "watchlist", "import", str(source), "--format", fmt)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert not (tmp_path / "w.yaml").exists()


def test_cli_usage_errors_exit_2(tmp_path: Path) -> None:
    config = config_file(tmp_path, tmp_path / "w.yaml")
    base = ["--config", str(config), "watchlist", "import", str(OFAC_SMALL / "sdn.csv")]
    result = cli(*base, "--format", "ofac-csv", "--country", "Narnia")
    assert result.exit_code == 2 and "--country: 'Narnia'" in result.stderr
    assert cli(*base, "--format", "xml").exit_code == 2
    result = cli(*base, "--format", "ofac-csv", "--output", str(tmp_path / "no" / "w.yaml"))
    assert result.exit_code == 2 and "does not exist" in result.stderr


def test_resolve_target() -> None:
    custom = Path("lists/watchlist.yaml")
    assert resolve_target(custom, None) == custom
    assert resolve_target(SHIPPED_WATCHLIST, custom) == custom
    with pytest.raises(ConfigError, match="--output PATH"):
        resolve_target(SHIPPED_WATCHLIST, None)
