"""Dates written in Urdu: "19 دسمبر 2024ء", "۱۹ دسمبر، ۲۰۲۴", digits of any system.

Urdu pages often carry their date only in the visible dateline ("(اردو پوائنٹ اخبارتازہ ترین۔
19دسمبر2024ء)"), where htmldate, which knows English month names, finds nothing. Only the
start of the text is read: a dateline comes first, and dates further down are the story's own.
"""

from __future__ import annotations

import re
from datetime import date

DATELINE_CHARACTERS = 400

MONTHS = {
    "جنوری": 1,
    "فروری": 2,
    "مارچ": 3,
    "اپریل": 4,
    "مئی": 5,
    "جون": 6,
    "جولائی": 7,
    "اگست": 8,
    "ستمبر": 9,
    "اکتوبر": 10,
    "نومبر": 11,
    "دسمبر": 12,
}
# \d is every digit system in Python; int() reads them all. "ء" marks a year of the common era.
_URDU_DATE = re.compile(
    rf"(?<!\d)(?P<day>\d{{1,2}})\s*(?P<month>{'|'.join(MONTHS)})\s*[،,]?\s*(?P<year>\d{{4}})(?!\d)"
)
# Arabic yeh and kaf in legacy pages ("جنوري"): read as the Urdu letters.
_LETTERS = str.maketrans({"\u064a": "\u06cc", "\u0643": "\u06a9"})


def urdu_dateline(text: str) -> str | None:
    """The first Urdu date at the start of ``text`` as an ISO date, or None."""
    found = _URDU_DATE.search(text[:DATELINE_CHARACTERS].translate(_LETTERS))
    if found is None:
        return None
    try:
        return date(
            int(found.group("year")), MONTHS[found.group("month")], int(found.group("day"))
        ).isoformat()
    except ValueError:  # 31 فروری
        return None
