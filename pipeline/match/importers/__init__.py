"""Watchlist imports: a sanctions list file -> entities merged into a watchlist file.

``pipeline watchlist import FILE --format F`` calls ``import_list``. One module per format
(``ofac``, ``opensanctions_ftm``, ``opensanctions_csv``), each a streaming reader that yields
``WatchlistEntity`` values; ``common`` holds the filters, the report and the merge.

The shipped ``pipeline/watchlist.yaml`` is never written: an import goes to the configured
watchlist file, or to ``--output``. A new output file starts as a copy of the configured
watchlist (the shipped one by default), so pointing feeds.yaml at it loses no entity.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.config import SHIPPED_WATCHLIST
from pipeline.core.errors import ConfigError
from pipeline.match.aliases import load_rule_set
from pipeline.match.importers import ofac, opensanctions_csv, opensanctions_ftm
from pipeline.match.importers.common import (
    IMPORT_FORMATS,
    ImportFilter,
    ImportFormat,
    ImportReport,
    MergeCounts,
    merge,
)
from pipeline.match.importers.countries import Countries, load_countries
from pipeline.match.watchlist import Watchlist, WatchlistEntity, load_watchlist, save_watchlist

__all__ = ["IMPORT_FORMATS", "ImportFormat", "ImportOutcome", "import_list", "resolve_target"]

Reader = Callable[[Path, ImportFilter, ImportReport, Countries], Iterator[WatchlistEntity]]

READERS: dict[str, Reader] = {
    "ofac-csv": ofac.read_entities,
    "opensanctions-ftm": opensanctions_ftm.read_entities,
    "opensanctions-csv": opensanctions_csv.read_entities,
}
NEW_WATCHLIST_DESCRIPTION = "Watchlist with imported sanctions lists"


@dataclass(frozen=True)
class ImportOutcome:
    report: ImportReport
    counts: MergeCounts
    target: Path
    total: int  # entities in the watchlist file after the import
    started_from: Path | None  # the watchlist a new target file was started from

    def summary(self, configured: Path) -> list[str]:
        """What happened, for stdout, ending with what to do next."""
        report, counts = self.report, self.counts
        lines = [
            f"read {report.records} records from {report.source.name}: "
            f"{report.entities} entities, {sum(report.skipped.values())} skipped, "
            f"{report.malformed} malformed"
        ]
        lines += [f"  {note}" for note in report.notes]
        lines += [f"  skipped {n}: {why}" for why, n in sorted(report.skipped.items())]
        if counts.repeated:
            lines.append(f"  {counts.repeated} ids repeated in the file (the last one kept)")
        started = f"; started from {self.started_from}" if self.started_from else ""
        lines.append(
            f"{self.target}: {counts.added} added, {counts.updated} updated, "
            f"{counts.unchanged} unchanged ({self.total} entities{started})"
        )
        if _same_file(self.target, configured):
            lines.append("next: run `pipeline rescan` to match stored articles against the changes")
        else:
            lines.append(
                f"next: point `watchlist:` in feeds.yaml at {self.target}, "
                "then run `pipeline rescan` to match stored articles against it"
            )
        return lines

    def warnings(self) -> list[str]:
        """Malformed records and empty results, for stderr."""
        report = self.report
        found: list[str] = []
        if report.malformed:
            found.append(
                f"{report.malformed} malformed records skipped"
                + (f" (the first {len(report.problems)} below)" if report.problems else "")
            )
            found += report.problems
        if report.entities == 0:
            found.append(f"no entity imported from {report.source.name}: check the filters")
        return found


def resolve_target(configured: Path, output: Path | None) -> Path:
    """The watchlist file an import writes: --output, else the configured one; never the
    shipped file (ConfigError saying what to do instead)."""
    if output is not None:
        if _same_file(output, SHIPPED_WATCHLIST):
            raise ConfigError(
                f"--output: {output} is the shipped watchlist, which an import never changes; "
                "choose another path"
            )
        return output
    if _same_file(configured, SHIPPED_WATCHLIST):
        raise ConfigError(
            "the configured watchlist is the shipped pipeline/watchlist.yaml, which an import "
            "never changes: add --output PATH (e.g. --output watchlist.yaml), then point "
            "`watchlist:` in feeds.yaml at that file"
        )
    return configured


def import_list(
    source: Path,
    fmt: str,
    *,
    target: Path,
    seed: Path,
    programs: Iterable[str] = (),
    countries: Iterable[str] = (),
) -> ImportOutcome:
    """Read ``source`` in format ``fmt``, keep what passes the filters, merge it into the
    watchlist file ``target`` (started from ``seed`` when it does not exist yet) and save it.

    ConfigError for a bad file, format, filter or watchlist; malformed records are counted in
    the outcome's report, not raised.
    """
    reader = READERS.get(fmt)
    if reader is None:
        raise ConfigError(f"--format: {fmt!r} is not one of {', '.join(IMPORT_FORMATS)}")
    table = load_countries(frozenset(load_rule_set().rules.countries))
    filters = ImportFilter.of(programs, _country_codes(countries, table))
    if not target.parent.is_dir():
        raise ConfigError(f"{target}: the folder {target.parent} does not exist")
    base, started_from = _base_watchlist(target, seed)
    report = ImportReport(source=source)
    merged, counts = merge(base, reader(source, filters, report, table))
    save_watchlist(merged, target)
    return ImportOutcome(report, counts, target, len(merged.entities), started_from)


def _country_codes(values: Iterable[str], table: Countries) -> list[str]:
    codes = []
    for value in values:
        code = table.code(value)
        if code is None:
            raise ConfigError(f"--country: {value!r} is not a country code (PK) or name we know")
        codes.append(code)
    return codes


def _base_watchlist(target: Path, seed: Path) -> tuple[Watchlist, Path | None]:
    """The watchlist to merge into: the target's, else a copy of the seed's, else empty."""
    if target.exists():
        return load_watchlist(target), None
    if seed.exists() and not _same_file(seed, target):
        return load_watchlist(seed), seed
    return Watchlist(description=NEW_WATCHLIST_DESCRIPTION), None


def _same_file(a: Path, b: Path) -> bool:
    return a.expanduser().resolve() == b.expanduser().resolve()
