"""OFAC's legacy CSV files -> watchlist entities.

``sdn.csv`` (no header; ``-0-`` is an empty field) has one row per listed party: ent_num,
SDN_Name, SDN_Type, Program, Title, Call_Sign, Vess_type, Tonnage, GRT, Vess_flag, Vess_owner,
Remarks. Beside it: ``alt.csv`` (ent_num, alt_num, alt_type, alt_name, alt_remarks: the a.k.a.,
f.k.a. and n.k.a. names, all strong), ``add.csv`` (ent_num, add_num, address, city/state/postal,
country, add_remarks) and ``sdn_comments.csv`` (ent_num, the rest of a Remarks field too long
for sdn.csv). The consolidated non-SDN list (``cons_prim.csv`` with ``cons_alt.csv``,
``cons_add.csv``, ``cons_comments.csv``) has the same layout.

What becomes of a row:
- id ``ofac-<ent_num>``; kind ``person`` for SDN_Type "individual", else ``organisation``
  (entities, vessels, aircraft); the type of a vessel or aircraft is kept in ``source``.
- programs from "NPWMD] [IFSR" -> [NPWMD, IFSR].
- strong aliases: every alt.csv name; weak aliases: the names quoted in Remarks
  ("a.k.a. 'NDC'", "f.k.a. '...'"): OFAC quotes exactly the names it calls weak.
- identifiers from Remarks ("Tax ID No. 9010629 (Pakistan)" -> tax_id: "9010629"; passports,
  national ids, registration numbers, IMO, MMSI, SWIFT).
- addresses from add.csv ("street, city, country"; postal codes dropped from the city so the
  city can be found in text); countries from the addresses, "nationality"/"citizen" in Remarks
  and the vessel flag, the first one stored in ``country``.

sdn.csv is streamed once and only the rows that pass --program are kept while the side files
are streamed after it; a row that cannot be read is counted, reported and skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.match.importers.common import (
    EntityDraft,
    ImportFilter,
    ImportReport,
    MalformedRecord,
    build_entity,
    clean,
    csv_rows,
    wrong_format,
)
from pipeline.match.importers.countries import Countries
from pipeline.match.watchlist import WatchlistEntity

SDN_COLUMNS = 12
ALT_COLUMNS = 5
ADD_COLUMNS = 6
COMMENT_COLUMNS = 2
EMPTY_MARKERS = frozenset({"-0-", "-0"})  # "-0" appears once, truncated, in real files
REGION_PREFIX = "Region: "

_QUOTED_NAME = re.compile(r"\b[af]\.k\.a\. '(.+?)'(?=\s*(?:[;.]|$))")
_NATIONALITY = re.compile(r"^(?:alt\.\s+)?(?:nationality|citizen)\s+(.+)$", re.IGNORECASE)
_ALTERNATIVE = re.compile(r"^alt\.\s+")
_DIGIT = re.compile(r"\d")
_IDENTIFIER_KINDS = (  # label -> identifier key; the first that fits wins
    (re.compile(r"\bimo\b", re.I), "imo"),
    (re.compile(r"\bmmsi\b", re.I), "mmsi"),
    (re.compile(r"\bswift\b", re.I), "swift"),
    (re.compile(r"passport", re.I), "passport"),
    (
        re.compile(
            r"tax id|\bnit\b|r\.f\.c\.|\brfc\b|\bruc\b|\brif\b|v\.a\.t\.|\bvat\b|fiscal code"
            r"|\bfein\b|\brtn\b",
            re.I,
        ),
        "tax_id",
    ),
    (
        re.compile(
            r"national id|national foreign id|d\.n\.i\.|cedula|c\.u\.r\.p\.|\bcurp\b"
            r"|personal id|identification number|numero de identidad|\bssn\b|identity",
            re.I,
        ),
        "national_id",
    ),
    (
        re.compile(
            r"registration|company number|folio mercantil|matricula mercantil|commercial registry"
            r"|d-u-n-s|chamber of commerce|certificate of incorporation|registered charity"
            r"|legal entity number",
            re.I,
        ),
        "registration",
    ),
)
_CITY_NOISE = re.compile(r"\S*\d\S*")  # postal codes: "Geneva 1208", "London EC3N 1DY"


@dataclass
class _Row:
    """The parts of one sdn.csv row kept until the side files have been read."""

    line: int
    ent_num: str
    name: str
    sdn_type: str
    programs: list[str]
    vessel_flag: str
    remarks: str
    strong: list[str] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)  # ISO codes, in order of appearance


@dataclass(frozen=True)
class _Files:
    sdn: Path
    alt: Path
    add: Path
    comments: Path
    label: str  # "OFAC SDN" or "OFAC non-SDN"


def read_entities(
    path: Path, filters: ImportFilter, report: ImportReport, countries: Countries
) -> Iterator[WatchlistEntity]:
    """The entities of an OFAC legacy CSV list whose main file (sdn.csv) is ``path``."""
    files = _files(path)
    rows = _read_sdn(files, filters, report)
    _read_aliases(files.alt, rows, report)
    _read_addresses(files.add, rows, report, countries)
    _read_comments(files.comments, rows, report)
    for row in rows.values():
        entity = _entity(row, files.label, filters, report, countries)
        if entity is not None:
            report.entities += 1
            yield entity


def _files(path: Path) -> _Files:
    stem = path.stem.casefold()
    if stem.endswith("prim"):  # cons_prim.csv -> cons_alt.csv, cons_add.csv, cons_comments.csv
        prefix = path.stem[: -len("prim")]
        names = (f"{prefix}alt.csv", f"{prefix}add.csv", f"{prefix}comments.csv")
        label = "OFAC non-SDN"
    else:
        names = ("alt.csv", "add.csv", f"{path.stem}_comments.csv")
        label = "OFAC SDN"
    alt, add, comments = (_sibling(path, name) for name in names)
    return _Files(path, alt, add, comments, label)


def _sibling(path: Path, name: str) -> Path:
    """The file called ``name`` beside ``path``, in whatever case it is written (SDN.CSV)."""
    exact = path.with_name(name)
    if exact.exists():
        return exact
    candidates = path.parent.glob("*") if path.parent.is_dir() else iter(())
    return next((p for p in candidates if p.name.casefold() == name.casefold()), exact)


def _fields(row: list[str]) -> list[str]:
    return ["" if cell.strip() in EMPTY_MARKERS else cell.strip() for cell in row]


# ---- sdn.csv -------------------------------------------------------------------------------


def _read_sdn(files: _Files, filters: ImportFilter, report: ImportReport) -> dict[str, _Row]:
    rows: dict[str, _Row] = {}
    first = True
    for line, raw in csv_rows(files.sdn, report):
        if first:
            _check_first_row(files.sdn, raw)
            first = False
        report.records += 1
        try:
            row = _parse_sdn_row(line, _fields(raw))
        except MalformedRecord as exc:
            report.record_malformed(f"{files.sdn.name} line {line}", str(exc))
            continue
        reason = filters.program_rejection(row.programs)  # countries come with add.csv
        if reason:
            report.skipped[reason] += 1
            continue
        if row.ent_num in rows:
            report.skipped["repeated ent_num (the last row is kept)"] += 1
        rows[row.ent_num] = row
    if first:
        raise wrong_format(files.sdn, "ofac-csv", "it has no rows")
    return rows


def _check_first_row(path: Path, raw: list[str]) -> None:
    if len(raw) != SDN_COLUMNS or not raw[0].strip().isdigit():
        detail = f"line 1 has {len(raw)} fields; sdn.csv rows have 12, the first an entity number"
        raise wrong_format(path, "ofac-csv", detail)


def _parse_sdn_row(line: int, fields: list[str]) -> _Row:
    if len(fields) != SDN_COLUMNS:
        raise MalformedRecord(f"{len(fields)} fields, expected {SDN_COLUMNS}")
    ent_num, name, sdn_type, program = fields[0], clean(fields[1]), fields[2], fields[3]
    if not ent_num.isdigit():
        raise MalformedRecord(f"ent_num {ent_num!r} is not a number")
    if not name:
        raise MalformedRecord("no name")
    programs = [p.strip(" []") for p in program.split("] [") if p.strip(" []")]
    return _Row(line, ent_num, name, sdn_type.casefold(), programs, fields[9], fields[11])


# ---- alt.csv, add.csv, sdn_comments.csv ----------------------------------------------------


def _side_rows(
    path: Path, width: int, rows: dict[str, _Row], report: ImportReport
) -> Iterator[tuple[_Row, list[str]]]:
    """Rows of a side file that belong to a kept sdn.csv row; rows of parties not in sdn.csv
    (or dropped by a filter) are counted, a missing side file noted."""
    if not path.exists():
        report.notes.append(f"{path.name} not found beside {report.source.name}: skipped")
        return
    read = orphans = 0
    for line, raw in csv_rows(path, report):
        read += 1
        fields = _fields(raw)
        if len(fields) != width or not fields[0].isdigit():
            why = f"{len(fields)} fields, expected {width}, the first an entity number"
            report.record_malformed(f"{path.name} line {line}", why)
            continue
        row = rows.get(fields[0])
        if row is None:
            orphans += 1
            continue
        yield row, fields
    report.notes.append(f"{path.name}: {read} rows, {orphans} for parties not imported")


def _read_aliases(path: Path, rows: dict[str, _Row], report: ImportReport) -> None:
    for row, fields in _side_rows(path, ALT_COLUMNS, rows, report):
        if fields[3]:
            row.strong.append(fields[3])


def _read_addresses(
    path: Path, rows: dict[str, _Row], report: ImportReport, countries: Countries
) -> None:
    for row, fields in _side_rows(path, ADD_COLUMNS, rows, report):
        street, city, country = fields[2], _city(fields[3]), fields[4]
        code = countries.code(country) if country else None
        if code and code not in row.countries:
            row.countries.append(code)
        shown = _address_country(country, code, countries)
        address = ", ".join(part for part in (street, city, shown) if part)
        if street or city:  # a bare country is a country, not an address
            row.addresses.append(address)


def _read_comments(path: Path, rows: dict[str, _Row], report: ImportReport) -> None:
    for row, fields in _side_rows(path, COMMENT_COLUMNS, rows, report):
        row.remarks += fields[1]  # the continuation may start mid-word: no separator


def _city(text: str) -> str:
    words = text.split()
    kept = [w for w in words if not _CITY_NOISE.fullmatch(w)]
    return clean(" ".join(kept if kept else words)).strip(" ,")


def _address_country(raw: str, code: str | None, countries: Countries) -> str:
    """The country as an address part: "Korea, North" would split into two parts at its
    comma, so such names are written as the table's English name; "Region: Gaza" -> "Gaza"."""
    if raw.casefold() == "undetermined":
        return ""
    if "," in raw and code:
        return countries.name(code)
    return raw.removeprefix(REGION_PREFIX)


# ---- the entity ----------------------------------------------------------------------------


def _entity(
    row: _Row, label: str, filters: ImportFilter, report: ImportReport, countries: Countries
) -> WatchlistEntity | None:
    remarks = _remark_parts(row.remarks)
    codes = list(row.countries)
    for value in [*(m.group(1) for p in remarks if (m := _NATIONALITY.match(p))), row.vessel_flag]:
        code = countries.code(value) if value else None
        if code and code not in codes:
            codes.append(code)
    reason = filters.country_rejection(codes)
    if reason:
        report.skipped[reason] += 1
        return None
    kind_note = f" ({row.sdn_type})" if row.sdn_type in ("vessel", "aircraft") else ""
    draft = EntityDraft(
        id=f"ofac-{row.ent_num}",
        name=row.name,
        kind="person" if row.sdn_type == "individual" else "organisation",
        source=f"{label} {row.ent_num}{kind_note}",
        country=countries.for_entity(codes[0]) if codes else None,
        programs=row.programs,
        addresses=row.addresses,
        strong=row.strong,
        weak=_QUOTED_NAME.findall(row.remarks),
    )
    for part in remarks:
        _add_identifier(draft, part)
    return build_entity(draft, report, f"{report.source.name} line {row.line}")


def _remark_parts(remarks: str) -> list[str]:
    return [part.strip().rstrip(".") for part in remarks.split(";") if part.strip()]


def _add_identifier(draft: EntityDraft, part: str) -> None:
    """'Tax ID No. 9010629 (Pakistan)' -> tax_id 9010629: the value is the first word with a
    digit, the words before it the label. Labels not in the table are ignored (dates of birth,
    phone numbers, digital currency addresses)."""
    words = _ALTERNATIVE.sub("", part).split()
    position = next((i for i, word in enumerate(words) if _DIGIT.search(word)), 0)
    if position == 0:  # no label, or no value
        return
    label = " ".join(words[:position])
    for pattern, kind in _IDENTIFIER_KINDS:
        if pattern.search(label):
            draft.add_identifier(kind, words[position].strip(".,;:()"))
            return
