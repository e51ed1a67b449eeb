"""Country names and codes as sanctions lists write them -> one ISO 3166-1 alpha-2 code.

OFAC writes names ("Korea, North", "Burma", "Region: Gaza"), OpenSanctions writes lower-case
codes ("ru", "kp"). The table is data in ``countries.yaml``; lookups ignore case, accents and
punctuation. What an entity stores in ``country`` is chosen for the matcher: the code when
``aliases.yaml`` has a ``countries`` entry for it (so its names and demonyms count as context),
else the English name (a bare "DE" would be searched as the word "de").
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from pipeline.core.errors import ConfigError
from pipeline.core.yamlfile import read_mapping

COUNTRIES_PATH = Path(__file__).with_name("countries.yaml")

_NOT_ALPHANUMERIC = re.compile(r"[^0-9a-z]+")
_CODE = re.compile(r"^[A-Za-z]{2}$")


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NOT_ALPHANUMERIC.sub(" ", plain).strip()


class Countries:
    """The country table: names and codes -> code; code -> English name."""

    def __init__(self, table: dict[str, list[str]], matcher_codes: frozenset[str]) -> None:
        self._names = {code.upper(): names[0] for code, names in table.items() if names}
        self._codes: dict[str, str] = {}
        for code, names in table.items():
            for name in [code, *names]:
                self._codes.setdefault(_fold(name), code.upper())
        self._matcher_codes = frozenset(code.upper() for code in matcher_codes)

    def code(self, value: str) -> str | None:
        """The ISO code of a country name or code; a two-letter code we do not know is kept."""
        folded = _fold(value)
        if folded in self._codes:
            return self._codes[folded]
        return value.strip().upper() if _CODE.match(value.strip()) else None

    def name(self, code: str) -> str:
        return self._names.get(code.upper(), code)

    def for_entity(self, code: str) -> str:
        """What ``WatchlistEntity.country`` should hold for this code (see the module doc)."""
        return code if code in self._matcher_codes else self.name(code)

    def key(self, value: str) -> str:
        """A comparable key for any country value: its code when known, else the folded text."""
        return self.code(value) or _fold(value)


def load_countries(matcher_codes: frozenset[str], path: Path = COUNTRIES_PATH) -> Countries:
    raw = read_mapping(path)
    table = raw.get("countries")
    valid = isinstance(table, dict) and all(
        isinstance(names, list) and all(isinstance(n, str) for n in names)
        for names in table.values()
    )
    if not valid or not isinstance(table, dict):
        raise ConfigError(f"{path}: countries: expected a mapping of code -> list of names")
    return Countries({str(code): names for code, names in table.items()}, matcher_codes)
