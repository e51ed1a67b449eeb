"""OpenSanctions records with Urdu and Arabic-script aliases import them, and the imported
watchlist matches them in Urdu text (Arabic yeh and kaf of an Arabic-language alias included)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from pipeline.match.importers import import_list
from pipeline.match.matcher import Matcher
from pipeline.match.watchlist import Watchlist, load_watchlist

FTM_RECORD = {
    "id": "NK-urdu-test",
    "schema": "Company",
    "caption": "Crescent Precision Works",
    "target": True,
    "datasets": ["us_ofac_sdn"],
    "properties": {
        "name": ["Crescent Precision Works", "کریسنٹ پریسیژن ورکس"],
        # Copied from an Arabic-language list: Arabic kaf and yeh (U+0643, U+064A).
        "alias": ["شركة الهلال للأعمال الدقيقة", "كريسنٹ پريسيژن وركس پرائيويٹ لميٹڈ"],
        "weakAlias": ["سی پی ڈبلیو"],
        "country": ["pk"],
        "programId": ["NPWMD"],
        "address": ["Port Qasim, Karachi"],
    },
}
URDU_TEXT = (
    "کراچی: امریکی محکمہ خارجہ نے پورٹ قاسم کی کمپنی کریسنٹ پریسیژن ورکس پرائیویٹ لمیٹڈ پر "
    "بیلسٹک میزائل پروگرام کے لیے پرزے فراہم کرنے کے الزام میں پابندیاں عائد کر دیں۔"
)


def _imported(tmp_path: Path, source: Path, fmt: str) -> Watchlist:
    target = tmp_path / "watchlist.yaml"
    empty = tmp_path / "seed.yaml"
    empty.write_text("version: 1\ndescription: test\nentities: []\n", encoding="utf-8")
    import_list(source, fmt, target=target, seed=empty)
    return load_watchlist(target)


def test_ftm_arabic_script_aliases_are_imported_and_match(tmp_path: Path) -> None:
    source = tmp_path / "entities.ftm.json"
    source.write_text(json.dumps(FTM_RECORD, ensure_ascii=False) + "\n", encoding="utf-8")
    watchlist = _imported(tmp_path, source, "opensanctions-ftm")
    (entity,) = watchlist.entities
    assert "کریسنٹ پریسیژن ورکس" in entity.strong_aliases
    assert "شركة الهلال للأعمال الدقيقة" in entity.strong_aliases
    assert entity.weak_aliases == ["سی پی ڈبلیو"]
    (match,) = Matcher(watchlist).match("خبر", URDU_TEXT)
    assert match.entity_name == "Crescent Precision Works"
    assert match.matched == "کریسنٹ پریسیژن ورکس پرائیویٹ لمیٹڈ"


def test_csv_arabic_script_aliases_are_imported(tmp_path: Path) -> None:
    source = tmp_path / "targets.simple.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "schema", "name", "aliases", "countries", "sanctions"])
        aliases = "کریسنٹ پریسیژن ورکس;كريسنٹ پريسيژن وركس پرائيويٹ لميٹڈ"
        writer.writerow(["NK-urdu-test", "Company", "Crescent Precision Works", aliases, "pk", ""])
    watchlist = _imported(tmp_path, source, "opensanctions-csv")
    (entity,) = watchlist.entities
    assert "کریسنٹ پریسیژن ورکس" in entity.strong_aliases
    (match,) = Matcher(watchlist).match("خبر", URDU_TEXT)
    assert match.entity_id == entity.id


def test_a_list_import_keeps_the_shipped_urdu_names(tmp_path: Path) -> None:
    """OFAC writes NDC in Latin letters only; importing it over the shipped watchlist must not
    drop the Urdu spellings written by hand (nor the Urdu matches they give)."""
    from pipeline.core.config import SHIPPED_WATCHLIST

    fixtures = Path(__file__).resolve().parent / "fixtures" / "watchlists" / "ofac"
    shipped = {e.id: e for e in load_watchlist(SHIPPED_WATCHLIST).entities}["ofac-52049"]
    urdu_names = [n for n in shipped.strong_aliases + shipped.weak_aliases if "ک" in n]
    assert urdu_names, "the shipped watchlist has Urdu names for NDC"

    target = tmp_path / "watchlist.yaml"
    import_list(fixtures / "sdn.csv", "ofac-csv", target=target, seed=SHIPPED_WATCHLIST)
    imported = {e.id: e for e in load_watchlist(target).entities}["ofac-52049"]

    assert set(urdu_names) <= set(imported.strong_aliases + imported.weak_aliases)
    assert "NATIONAL DEFENSE COMPLEX".casefold() in {
        name.casefold() for name in imported.strong_aliases + imported.weak_aliases
    }
    text = (
        "اسلام آباد: امریکہ نے نیشنل ڈویلپمنٹ کمپلیکس پر "
        "بیلسٹک میزائل پروگرام کی وجہ سے پابندیاں لگا دیں۔"
    )
    found = Matcher(load_watchlist(target)).match("", text)
    assert "ofac-52049" in {m.entity_id for m in found}
