"""What every list importer shares: the filters, the report, building entities, the merge.

An importer streams its file and yields ``WatchlistEntity`` values; a record it cannot read
raises ``MalformedRecord`` inside the importer, which counts it in the ``ImportReport`` and goes
on. ``merge`` then folds the entities into a watchlist by id.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

from pydantic import ValidationError

from pipeline.core.errors import ConfigError
from pipeline.core.yamlfile import format_key_path
from pipeline.match.watchlist import Watchlist, WatchlistEntity

ImportFormat = Literal["ofac-csv", "opensanctions-ftm", "opensanctions-csv"]
IMPORT_FORMATS: tuple[ImportFormat, ...] = ("ofac-csv", "opensanctions-ftm", "opensanctions-csv")

MAX_PROBLEMS = 5  # malformed records quoted in the report; the others are only counted
SNIFF_BYTES = 65536
# Fields an analyst curates by hand; a re-import never overwrites them.
CURATED_FIELDS = ("context", "negative_context")

_ID_UNSAFE = re.compile(r"[^A-Za-z0-9._:-]+")
_WHITESPACE = re.compile(r"\s+")
_LETTER = re.compile(r"[^\W\d_]")


class MalformedRecord(Exception):
    """One record of a list file cannot be read. The importer's loop catches it, counts and
    reports it, and reads on; it never leaves ``pipeline.match.importers``."""


# ---- the report ----------------------------------------------------------------------------


@dataclass
class ImportReport:
    """What an import read, kept, skipped and could not read."""

    source: Path
    records: int = 0  # records read from the main file (rows, lines)
    entities: int = 0  # entities produced (after the filters)
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> records
    malformed: int = 0
    problems: list[str] = field(default_factory=list)  # the first MAX_PROBLEMS, with places
    notes: list[str] = field(default_factory=list)  # e.g. the side files read

    def record_malformed(self, where: str, why: str) -> None:
        self.malformed += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(f"{where}: {why}")


# ---- filters -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportFilter:
    """--program and --country: an entity is kept when it has one of the programs (if any are
    given) and one of the countries (if any are given). Programs compare case-insensitively;
    countries are ISO codes (see countries.py)."""

    programs: frozenset[str] = frozenset()
    countries: frozenset[str] = frozenset()

    @classmethod
    def of(cls, programs: Iterable[str], countries: Iterable[str]) -> ImportFilter:
        return cls(frozenset(p.strip().casefold() for p in programs), frozenset(countries))

    def rejection(self, programs: Iterable[str], countries: Iterable[str]) -> str | None:
        """Why the filters drop an entity with these programs and countries; None: kept."""
        return self.program_rejection(programs) or self.country_rejection(countries)

    def program_rejection(self, programs: Iterable[str]) -> str | None:
        if self.programs and not self.programs & {p.casefold() for p in programs}:
            return "not in program " + " or ".join(sorted(p.upper() for p in self.programs))
        return None

    def country_rejection(self, countries: Iterable[str]) -> str | None:
        if self.countries and not self.countries & set(countries):
            return "not in country " + " or ".join(sorted(self.countries))
        return None


# ---- building entities ---------------------------------------------------------------------


def clean(text: str) -> str:
    """Whitespace folded to single spaces, ends stripped."""
    return _WHITESPACE.sub(" ", text).strip()


def safe_id(prefix: str, raw: str) -> str:
    """'<prefix>-<raw>' with characters an entity id cannot hold replaced by '-'."""
    return f"{prefix}-{_ID_UNSAFE.sub('-', raw.strip()).strip('-')}"


@dataclass
class EntityDraft:
    """An entity being assembled from a list record; ``build`` validates it."""

    id: str
    name: str
    kind: Literal["organisation", "person"]
    source: str
    country: str | None = None
    programs: list[str] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)
    strong: list[str] = field(default_factory=list)
    weak: list[str] = field(default_factory=list)
    identifiers: dict[str, str] = field(default_factory=dict)

    def add_identifier(self, kind: str, value: str) -> None:
        """Keep each value once; a second value of a kind gets the key '<kind>_2'."""
        value = clean(value)
        if not value or value in self.identifiers.values():
            return
        key, number = kind, 1
        while key in self.identifiers:
            number += 1
            key = f"{kind}_{number}"
        self.identifiers[key] = value

    def build(self) -> WatchlistEntity:
        """The validated entity: names de-duplicated (case-insensitively), the canonical name
        not repeated among the aliases, a weak alias that is also strong kept as strong."""
        name = clean(self.name)
        seen = {_name_key(name)}
        strong = _unique(self.strong, seen)
        weak = _unique(self.weak, seen)
        try:
            return WatchlistEntity(
                id=self.id,
                name=name,
                kind=self.kind,
                country=self.country,
                programs=list(dict.fromkeys(self.programs)),
                identifiers=self.identifiers,
                addresses=list(dict.fromkeys(filter(None, map(tidy_address, self.addresses)))),
                strong_aliases=strong,
                weak_aliases=weak,
                source=self.source,
            )
        except ValidationError as exc:
            error = exc.errors()[0]
            where = format_key_path(tuple(error["loc"]))
            raise MalformedRecord(f"{where}: {error['msg']}") from None


def tidy_address(address: str) -> str:
    """The address without its comma-separated parts that have no letter ("Pereulok
    Perunovskiy, 3, 2, 21, Moscow, 127055" -> "Pereulok Perunovskiy, Moscow"): the matcher
    takes every part as a context term, and a bare "3" or postcode would corroborate anything.
    """
    parts = (clean(part) for part in address.split(","))
    return ", ".join(part for part in parts if _LETTER.search(part))


def _name_key(name: str) -> str:
    return clean(name).casefold()


def _unique(names: Iterable[str], seen: set[str]) -> list[str]:
    kept: list[str] = []
    for raw in names:
        name = clean(raw)
        key = _name_key(name)
        if not name or key in seen:
            continue
        seen.add(key)
        kept.append(name)
    return kept


def build_entity(draft: EntityDraft, report: ImportReport, where: str) -> WatchlistEntity | None:
    """The draft's entity, or None after counting the record as malformed (with the reason)."""
    try:
        return draft.build()
    except MalformedRecord as exc:
        report.record_malformed(where, str(exc))
        return None


# ---- the merge -----------------------------------------------------------------------------


@dataclass(frozen=True)
class MergeCounts:
    added: int
    updated: int
    unchanged: int
    repeated: int  # ids met more than once in the imported file (the last one is kept)


def merge(base: Watchlist, imported: Iterable[WatchlistEntity]) -> tuple[Watchlist, MergeCounts]:
    """Fold imported entities into ``base`` by id: new ids are appended, known ids replaced,
    keeping their curated fields (context, negative_context) and their canonical name when the
    list only writes it in another case. Entities the import does not name are kept as they are.
    """
    entities = list(base.entities)
    position = {entity.id: index for index, entity in enumerate(entities)}
    originals = dict(zip(position, base.entities, strict=True))
    touched: set[str] = set()
    repeated = 0
    for entity in imported:
        if entity.id in touched:
            repeated += 1
        touched.add(entity.id)
        if entity.id in position:
            index = position[entity.id]
            entities[index] = _keep_curated(originals.get(entity.id, entities[index]), entity)
        else:
            position[entity.id] = len(entities)
            entities.append(entity)
    added = sum(1 for entity_id in touched if entity_id not in originals)
    unchanged = sum(
        1
        for entity_id in touched
        if entity_id in originals and entities[position[entity_id]] == originals[entity_id]
    )
    merged = Watchlist(version=base.version, description=base.description, entities=entities)
    return merged, MergeCounts(added, len(touched) - added - unchanged, unchanged, repeated)


def _keep_curated(old: WatchlistEntity, new: WatchlistEntity) -> WatchlistEntity:
    update: dict[str, object] = {name: getattr(old, name) for name in CURATED_FIELDS}
    if _name_key(old.name) == _name_key(new.name):
        update["name"] = old.name  # "National Development Complex" stays, not the list's capitals
    # Names the list does not carry (the Urdu spellings, an analyst's additions) stay: a list
    # import adds names to an entity, it never takes away the ones written by hand.
    seen = {_name_key(str(update.get("name", new.name)))}
    update["strong_aliases"] = _unique([*new.strong_aliases, *old.strong_aliases], seen)
    update["weak_aliases"] = _unique([*new.weak_aliases, *old.weak_aliases], seen)
    return new.model_copy(update=update)


# ---- reading files -------------------------------------------------------------------------


@contextmanager
def open_text(path: Path) -> Iterator[IO[str]]:
    """A list file opened for streaming; bytes that are not UTF-8 survive for ``repair``."""
    try:
        with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
            yield handle
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a list file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None


def repair(text: str) -> str:
    """Text read with ``open_text``: bytes that were not UTF-8 decoded as Windows-1252 (older
    OFAC files), so a stray accent never stops an import."""
    if text.isascii() or not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    raw = text.encode("utf-8", "surrogateescape")
    return raw.decode("cp1252", errors="replace")


def csv_rows(
    path: Path, report: ImportReport, *, delimiter: str = ","
) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of each non-blank CSV record, streamed; a record the csv module
    cannot parse is counted as malformed."""
    with open_text(path) as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                report.record_malformed(f"{path.name} line {reader.line_num}", str(exc))
                continue
            if any(cell.strip(" \t\r\n\x1a") for cell in row):  # OFAC files may end with ^Z
                yield reader.line_num, [repair(cell) for cell in row]


def sniff(path: Path) -> str | None:
    """What the file looks like, from its first line: an import format or a description of a
    file we do not import; None if nothing is recognised."""
    with open_text(path) as handle:
        head = repair(handle.read(SNIFF_BYTES))
    line = next((line for line in head.splitlines() if line.strip(" \t\x1a")), "").strip()
    if line.startswith("{"):
        return "opensanctions-ftm"
    if line.startswith("<"):
        return "an XML file (use OFAC's legacy CSV files or an OpenSanctions export)"
    cells = [cell.strip().casefold() for cell in next(csv.reader([line]), [])]
    if {"id", "schema", "name"} <= set(cells):
        return "opensanctions-csv"
    if cells and cells[0].isdigit():
        return _OFAC_FILES_BY_WIDTH.get(len(cells))
    return None


_OFAC_FILES_BY_WIDTH = {
    12: "ofac-csv",
    5: "OFAC's alt.csv (pass sdn.csv: alt.csv and add.csv are read from beside it)",
    6: "OFAC's add.csv (pass sdn.csv: alt.csv and add.csv are read from beside it)",
    2: "OFAC's sdn_comments.csv (pass sdn.csv: the comments are read from beside it)",
}


def wrong_format(path: Path, expected: ImportFormat, detail: str) -> ConfigError:
    """The error for a file that is not in the --format given, naming what it looks like."""
    guess = sniff(path)
    if guess in IMPORT_FORMATS:
        hint = f"it looks like --format {guess}"
    elif guess:
        hint = f"it looks like {guess}"
    else:
        hint = "check the file and --format"
    return ConfigError(f"{path}: not in the {expected} format ({detail}); {hint}")
