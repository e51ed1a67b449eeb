"""Arabic-script (Urdu) folds and tokenising, applied by ``normalize.fold`` to any text that holds
Arabic script. The rules come from /work/shared/URDU.md and are tested row by row
(tests/test_urdu_normalize.py):

- NFKC first (presentation forms U+FB50-U+FDFF, U+FE70-U+FEFF become letters), then
- yeh: U+064A ي and U+0649 ى -> U+06CC ی; never yeh barree ے U+06D2 (کے is not کی);
- kaf: U+0643 ك -> U+06A9 ک;
- heh: U+0647 ه, U+0629 ة, U+06C3 ۃ -> U+06C1 ہ; never do-chashmi heh ھ U+06BE (تھا is not تہا);
- hamza and madda compose with the letter before them (NFC: ا+U+0653 = آ, ے+U+0654 = ۓ,
  ہ+U+0654 = ۂ); ی U+06CC + U+0654 has no precomposed form and becomes ئ U+0626. Precomposed
  letters are never decomposed (ئ stays ئ: stripping the hamza would make کوئی کوی);
- harakat U+064B-U+0652, U+0655-U+065F, superscript alef U+0670 and tatweel U+0640 dropped;
- invisible formatting characters (ZWNJ, ZWJ, LRM/RLM, bidi controls, U+061C, U+FEFF) dropped, so
  a name written with a ZWNJ becomes one word: names are matched with or without spaces
  (``arabic_names.py``);
- Arabic-Indic U+0660-U+0669 and Extended Arabic-Indic U+06F0-U+06F9 digits -> ASCII 0-9.

Every folded character keeps the index of the original character it came from, so mentions keep
their offsets in the original text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache

YEH = "\u06cc"
HAMZA_ABOVE = "\u0654"
MADDA_ABOVE = "\u0653"
HAMZA_YEH = "\u0626"

_LETTER_FOLDS = {
    "\u064a": YEH,  # Arabic yeh (legacy encodings: windows-1256 has no U+06CC)
    "\u0649": YEH,  # alef maksura
    "\u0643": "\u06a9",  # Arabic kaf -> keheh
    "\u0647": "\u06c1",  # Arabic heh -> heh goal
    "\u0629": "\u06c1",  # teh marbuta
    "\u06c3": "\u06c1",  # teh marbuta goal
    "\u066b": ".",  # Arabic decimal separator
    "\u066c": ",",  # Arabic thousands separator
}
_LETTER_FOLDS |= {chr(0x0660 + d): str(d) for d in range(10)}
_LETTER_FOLDS |= {chr(0x06F0 + d): str(d) for d in range(10)}

_HARAKAT = {chr(c) for c in range(0x064B, 0x0653)} | {chr(c) for c in range(0x0655, 0x0660)}
INVISIBLE = frozenset(
    {chr(c) for c in range(0x200B, 0x2010)}
    | {chr(c) for c in range(0x202A, 0x202F)}
    | {chr(c) for c in range(0x2066, 0x206A)}
    | {"\u061c", "\ufeff", "\u00ad"}
)
_DROPPED = frozenset(_HARAKAT | {"\u0670", "\u0640"} | INVISIBLE)
_COMPOSING_MARKS = frozenset({HAMZA_ABOVE, MADDA_ABOVE})

# Letters that never join the next one: after them a missing space is invisible, so Urdu text
# often runs a word into the next one there ("ادارےاین ڈی سی").
NON_JOINING = frozenset("اآأإدڈذرڑزژوؤےۓۃءة")

ARABIC_RANGES = "\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufefe"
_ARABIC_CHAR = re.compile(f"[{ARABIC_RANGES}]")
# A word of mixed runs ("آرڈر13382کے", "eo13382") is split where Arabic letters meet digits or
# Latin letters: Urdu letters are ``\w``, so "13382" glued to them is no word of its own.
_SCRIPT_RUN = re.compile(f"[{ARABIC_RANGES}]+|[0-9]+|[^{ARABIC_RANGES}0-9]+")

SENTENCE_ENDS = frozenset("\u06d4\u061f")  # ۔ full stop, ؟ question mark
COMMAS = frozenset("\u060c")  # ، Urdu comma


def has_arabic(text: str) -> bool:
    """True when the text holds at least one Arabic-script character."""
    return _ARABIC_CHAR.search(text) is not None


def is_arabic_word(word: str) -> bool:
    return _ARABIC_CHAR.search(word) is not None


@lru_cache(maxsize=4096)
def fold_arabic_char(char: str) -> str:
    """NFKC, then the letter and digit folds; harakat, tatweel and invisible characters -> ""."""
    if char in _DROPPED:
        return ""
    normal = unicodedata.normalize("NFKC", char)
    return "".join(_LETTER_FOLDS.get(c, c) for c in normal if c not in _DROPPED)


@lru_cache(maxsize=256)
def compose(base: str, mark: str) -> str | None:
    """The letter ``base`` carrying hamza/madda ``mark``, or None when there is none."""
    if base == YEH and mark == HAMZA_ABOVE:
        return HAMZA_YEH
    composed = unicodedata.normalize("NFC", base + mark)
    return composed if len(composed) == 1 else None


def fold_mixed(text: str, fold_other: Callable[[str], str]) -> tuple[str, list[int]]:
    """Fold a text holding Arabic script: Arabic-block characters by the rules above, the others
    by ``fold_other`` (the Latin fold). Returns the folded text and the original index of every
    folded character."""
    out: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        if char in _COMPOSING_MARKS:
            composed = compose(out[-1], char) if out else None
            if composed is not None:
                out[-1] = composed  # harakat between the letter and the mark are dropped already
            continue  # a mark that composes with nothing is noise
        if char < "\u0080":
            piece = char.lower()
        elif char in _DROPPED or _ARABIC_CHAR.match(char):
            piece = fold_arabic_char(char)
        else:
            piece = fold_other(char)
        out.extend(piece)
        origin.extend([index] * len(piece))
    return "".join(out), origin


def script_runs(word: str) -> list[tuple[int, int]]:
    """(start, end) of the runs of one script (Arabic letters, digits, other letters) in a word;
    one run for a word of one script."""
    return [(m.start(), m.end()) for m in _SCRIPT_RUN.finditer(word)]


def mixes_scripts(word: str) -> bool:
    return has_arabic(word) and len(script_runs(word)) > 1


def original_cut(original: str, folded_length: int) -> int:
    """The index in ``original`` (one token as written) where its first ``folded_length``
    folded characters end: where to cut a mention inside a token ("سنزنے" -> "سنز")."""
    produced = 0
    for index, char in enumerate(original):
        if produced >= folded_length:
            return index
        if char in _COMPOSING_MARKS:
            continue
        produced += len(fold_arabic_char(char)) if _ARABIC_CHAR.match(char) else len(char)
    return len(original)
