"""OpenSanctions ``targets.simple.csv`` -> watchlist entities.

A header row, then one row per target: id, schema, name, aliases, birth_date, countries,
addresses, identifiers, sanctions, phones, emails, [program_ids,] dataset, first_seen,
last_seen, last_change (columns are found by their header, so older exports without
``program_ids`` read too). A cell with several values separates them with ``;`` (quoted like
CSV when a value holds a ``;``).

What becomes of a row: id ``os-<id>`` (as the opensanctions-ftm importer gives it); kind from
``schema`` as in opensanctions_ftm.py; ``name`` is the canonical name and every alias is
strong: this export merges aliases, weak aliases and former names into one column, so it
cannot tell them apart. The matcher's own classes still hold acronyms, single words and names
of everyday words to confirmation. Countries are ISO codes; programs come from
``program_ids`` and from the program part of each ``sanctions`` text ("NPWMD - ..."), when it
is a tag; identifiers carry no kind, so they are keyed ``identifier``, ``identifier_2``, ...
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from pipeline.match.importers.common import (
    EntityDraft,
    ImportFilter,
    ImportReport,
    MalformedRecord,
    build_entity,
    csv_rows,
    safe_id,
    wrong_format,
)
from pipeline.match.importers.countries import Countries
from pipeline.match.importers.opensanctions_ftm import PARTY_KINDS, PROGRAM_TAG
from pipeline.match.watchlist import WatchlistEntity

REQUIRED_COLUMNS = ("id", "schema", "name", "aliases")
SANCTION_PARTS = " - "  # the exporter joins program, reason, status and dates with this


def read_entities(
    path: Path, filters: ImportFilter, report: ImportReport, countries: Countries
) -> Iterator[WatchlistEntity]:
    """The targets of a targets.simple.csv file."""
    header: list[str] | None = None
    for line, row in csv_rows(path, report):
        if header is None:
            header = _header(path, row)
            continue
        report.records += 1
        try:
            fields = dict(zip(header, _width(row, header), strict=True))
            entity = _entity(fields, filters, report, countries, line)
        except MalformedRecord as exc:
            report.record_malformed(f"{path.name} line {line}", str(exc))
            continue
        if entity is not None:
            report.entities += 1
            yield entity
    if header is None:
        raise wrong_format(path, "opensanctions-csv", "it is empty")


def _header(path: Path, row: list[str]) -> list[str]:
    header = [cell.strip().casefold() for cell in row]
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        detail = f"the header row has no {', '.join(missing)} column"
        raise wrong_format(path, "opensanctions-csv", detail)
    return header


def _width(row: list[str], header: list[str]) -> list[str]:
    if len(row) != len(header):
        raise MalformedRecord(f"{len(row)} fields, the header has {len(header)}")
    return row


def _values(cell: str | None) -> list[str]:
    """The values of a multi-valued cell: 'a;b;"c;d"' -> [a, b, c;d]."""
    if not cell or not cell.strip():
        return []
    values = next(csv.reader([cell], delimiter=";"), [])
    return [value.strip() for value in values if value.strip()]


def _entity(
    row: dict[str, str],
    filters: ImportFilter,
    report: ImportReport,
    countries: Countries,
    line: int,
) -> WatchlistEntity | None:
    schema = row["schema"].strip()
    if schema not in PARTY_KINDS:
        report.skipped[f"{schema or 'no'} schema (not a party)"] += 1
        return None
    raw_id, name = row["id"].strip(), row["name"].strip()
    if not raw_id:
        raise MalformedRecord("no id")
    aliases = _values(row["aliases"])
    if not name and not aliases:
        raise MalformedRecord("no name")
    codes = _country_codes(_values(row.get("countries")), countries)
    programs = _programs(row)
    reason = filters.rejection(programs, codes)
    if reason:
        report.skipped[reason] += 1
        return None
    datasets = _values(row.get("dataset"))
    draft = EntityDraft(
        id=safe_id("os", raw_id),
        name=name or aliases[0],
        kind=PARTY_KINDS[schema],
        source=f"OpenSanctions {raw_id}" + (f" ({', '.join(datasets)})" if datasets else ""),
        country=countries.for_entity(codes[0]) if codes else None,
        programs=programs,
        addresses=_values(row.get("addresses")),
        strong=aliases,
    )
    for value in _values(row.get("identifiers")):
        draft.add_identifier("identifier", value)
    return build_entity(draft, report, f"{report.source.name} line {line}")


def _country_codes(values: list[str], countries: Countries) -> list[str]:
    return list(dict.fromkeys(code for value in values if (code := countries.code(value))))


def _programs(row: dict[str, str]) -> list[str]:
    ids = _values(row.get("program_ids"))
    parts = [text.split(SANCTION_PARTS)[0].strip() for text in _values(row.get("sanctions"))]
    return list(dict.fromkeys(ids + [part for part in parts if PROGRAM_TAG.match(part)]))
