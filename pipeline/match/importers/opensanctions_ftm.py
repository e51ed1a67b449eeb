"""OpenSanctions FollowTheMoney entities (JSON lines, ``entities.ftm.json``) -> watchlist entities.

One JSON object per line: ``id``, ``schema``, ``caption``, ``properties`` (every value a list),
``datasets``, ``target``. What becomes of an entity:
- only parties are imported: Person -> ``person``; Organization, Company, LegalEntity,
  PublicBody, Vessel, Airplane -> ``organisation``. Other schemas (Sanction, Address,
  Ownership, ...) are counted as skipped; so are parties with ``target: false`` (related
  companies and relatives, not listed themselves).
- id ``os-<id>`` (the same id as the opensanctions-csv importer gives, so the two formats of
  one export update the same entities); canonical name: the caption.
- strong aliases: ``name``, ``alias`` and ``previousName`` (a former name is how older reports
  and registries still name the party, as OFAC's f.k.a. names, which are strong too); weak:
  ``weakAlias`` and ``abbreviation``.
- countries: ``country``, ``jurisdiction``, ``nationality``, ``citizenship``, ``mainCountry``,
  ``flag``; identifiers: tax, INN, OGRN, registration, passport, IMO, MMSI, LEI, SWIFT numbers.
- programs: the ``programId`` of the Sanction entities that name the party, and their
  ``program`` when it is a tag ("RUSSIA-EO14024"), not prose; the party's own ``programId``
  too. ``topics`` ("sanction", "poi") are classifications shared by nearly every entity, so
  they are not programs: the matcher treats entities of one programme as related.

The file is streamed twice: once for the Sanction entities (only their programs are kept),
once for the parties.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pipeline.match.importers.common import (
    EntityDraft,
    ImportFilter,
    ImportReport,
    MalformedRecord,
    build_entity,
    open_text,
    repair,
    safe_id,
    wrong_format,
)
from pipeline.match.importers.countries import Countries
from pipeline.match.watchlist import WatchlistEntity

PARTY_KINDS: dict[str, Literal["organisation", "person"]] = {
    "Person": "person",
    "Organization": "organisation",
    "Company": "organisation",
    "LegalEntity": "organisation",
    "PublicBody": "organisation",
    "Vessel": "organisation",
    "Airplane": "organisation",
}
STRONG_PROPERTIES = ("name", "alias", "previousName")
WEAK_PROPERTIES = ("weakAlias", "abbreviation")
COUNTRY_PROPERTIES = (
    "country",
    "jurisdiction",
    "nationality",
    "citizenship",
    "mainCountry",
    "flag",
)
IDENTIFIER_PROPERTIES = {
    "taxNumber": "tax_id",
    "innCode": "inn",
    "ogrnCode": "ogrn",
    "registrationNumber": "registration",
    "idNumber": "national_id",
    "passportNumber": "passport",
    "imoNumber": "imo",
    "mmsi": "mmsi",
    "leiCode": "lei",
    "swiftBic": "swift",
    "vatCode": "vat",
}
_SANCTION_LINE = re.compile(r'"schema"\s*:\s*"Sanction"')
PROGRAM_TAG = re.compile(r"^[A-Z0-9][A-Z0-9_.-]{1,39}$")  # "NPWMD", "RUSSIA-EO14024", "EU-UKR"


def read_entities(
    path: Path, filters: ImportFilter, report: ImportReport, countries: Countries
) -> Iterator[WatchlistEntity]:
    """The parties of a FollowTheMoney JSON-lines file."""
    _check_first_line(path)
    programs = _programs_by_party(path)
    for line_number, record in _records(path, report):
        report.records += 1
        try:
            entity = _entity(record, programs, filters, report, countries, line_number)
        except MalformedRecord as exc:
            report.record_malformed(f"{path.name} line {line_number}", str(exc))
            continue
        if entity is not None:
            report.entities += 1
            yield entity


def _check_first_line(path: Path) -> None:
    with open_text(path) as handle:
        first = next((line for line in handle if line.strip()), "")
    try:
        record = json.loads(first)
    except ValueError:
        record = None
    if not isinstance(record, dict) or "schema" not in record or "id" not in record:
        detail = "line 1 is not a JSON object with 'id' and 'schema'"
        raise wrong_format(path, "opensanctions-ftm", detail)


def _records(path: Path, report: ImportReport) -> Iterator[tuple[int, dict[str, Any]]]:
    with open_text(path) as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = _parse(line)
            except MalformedRecord as exc:
                report.records += 1
                report.record_malformed(f"{path.name} line {line_number}", str(exc))
                continue
            yield line_number, record


def _parse(line: str) -> dict[str, Any]:
    try:
        record = json.loads(repair(line))
    except ValueError as exc:
        raise MalformedRecord(f"not JSON ({exc})") from None
    if not isinstance(record, dict):
        raise MalformedRecord("not a JSON object")
    if not isinstance(record.get("properties", {}), dict):
        raise MalformedRecord("'properties' is not an object")
    return record


def _values(properties: dict[str, Any], name: str) -> list[str]:
    values = properties.get(name, [])
    values = values if isinstance(values, list) else [values]
    return [value.strip() for value in values if isinstance(value, str) and value.strip()]


def _programs_by_party(path: Path) -> dict[str, list[str]]:
    """Party id -> program tags of the Sanction entities that name it (first pass)."""
    programs: defaultdict[str, list[str]] = defaultdict(list)
    with open_text(path) as handle:
        for line in handle:
            if not _SANCTION_LINE.search(line):
                continue
            try:
                record = _parse(line)
            except MalformedRecord:
                continue  # counted by the second pass
            properties = record.get("properties", {})
            tags = _program_tags(properties)
            for party in _values(properties, "entity"):
                programs[party].extend(t for t in tags if t not in programs[party])
    return programs


def _program_tags(properties: dict[str, Any]) -> list[str]:
    ids = _values(properties, "programId")
    tags = [value for value in _values(properties, "program") if PROGRAM_TAG.match(value)]
    return list(dict.fromkeys(ids + tags))


def _entity(
    record: dict[str, Any],
    programs: dict[str, list[str]],
    filters: ImportFilter,
    report: ImportReport,
    countries: Countries,
    line_number: int,
) -> WatchlistEntity | None:
    schema = str(record.get("schema", ""))
    if schema not in PARTY_KINDS:
        report.skipped[f"{schema or 'no'} schema (not a party)"] += 1
        return None
    if record.get("target") is False:
        report.skipped["not a target (a related party)"] += 1
        return None
    raw_id = record.get("id")
    if not isinstance(raw_id, str) or not raw_id.strip():
        raise MalformedRecord("no id")
    properties: dict[str, Any] = record.get("properties", {})
    codes = _country_codes(properties, countries)
    party_programs = list(dict.fromkeys(programs.get(raw_id, []) + _program_tags(properties)))
    reason = filters.rejection(party_programs, codes)
    if reason:
        report.skipped[reason] += 1
        return None
    draft = _draft(record, raw_id, PARTY_KINDS[schema], properties)
    draft.country = countries.for_entity(codes[0]) if codes else None
    draft.programs = party_programs
    return build_entity(draft, report, f"{report.source.name} line {line_number}")


def _draft(
    record: dict[str, Any],
    raw_id: str,
    kind: Literal["organisation", "person"],
    properties: dict[str, Any],
) -> EntityDraft:
    strong = [name for prop in STRONG_PROPERTIES for name in _values(properties, prop)]
    caption = record.get("caption")
    name = caption.strip() if isinstance(caption, str) and caption.strip() else ""
    if not name and not strong:
        raise MalformedRecord("no name")
    datasets = [d for d in record.get("datasets", []) if isinstance(d, str)]
    draft = EntityDraft(
        id=safe_id("os", raw_id),
        name=name or strong[0],
        kind=kind,
        source=f"OpenSanctions {raw_id}" + (f" ({', '.join(datasets)})" if datasets else ""),
        addresses=_values(properties, "address"),
        strong=strong,
        weak=[name for prop in WEAK_PROPERTIES for name in _values(properties, prop)],
    )
    for prop, key in IDENTIFIER_PROPERTIES.items():
        for value in _values(properties, prop):
            draft.add_identifier(key, value)
    return draft


def _country_codes(properties: dict[str, Any], countries: Countries) -> list[str]:
    codes: list[str] = []
    for prop in COUNTRY_PROPERTIES:
        for value in _values(properties, prop):
            code = countries.code(value)
            if code and code not in codes:
                codes.append(code)
    return codes
