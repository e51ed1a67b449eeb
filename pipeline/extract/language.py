"""The language of an article, identified from its body text (py3langid).

Pages declare a language (``<html lang>``, Content-Language, og:locale), and for Latin-script
pages the declaration is kept: it is what the publisher says. Arabic-script pages are another
matter: Urdu sites are often labelled ``ar`` or ``fa``, or not at all, and short metadata
lines (a title, a description) come out as Persian under identification. So a body written
mostly in Arabic script gets the language identified from the body itself (``ur`` for Urdu);
any other body keeps the declared language and is identified only when nothing is declared.
"""

from __future__ import annotations

import re

MIN_LETTERS = 40  # fewer letters than this and identification is a guess
ARABIC_SCRIPT_SHARE = 0.5  # of the letters: above it the body decides
IDENTIFIED_CHARACTERS = 5_000  # the start of the body is enough, and bounds the time

_LETTER = re.compile(r"[^\W\d_]")
_ARABIC_LETTER = re.compile("[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufefe]")


def body_language(text: str, declared: str | None) -> str | None:
    """The article's language code: identified from an Arabic-script body, else ``declared``,
    else identified."""
    sample = text[:IDENTIFIED_CHARACTERS]
    letters = len(_LETTER.findall(sample))
    if letters < MIN_LETTERS:
        return declared
    arabic = len(_ARABIC_LETTER.findall(sample))
    if arabic / letters > ARABIC_SCRIPT_SHARE or declared is None:
        return identify(sample) or declared
    return declared


def load_model() -> None:
    """Load py3langid's model now rather than on the first identification."""
    from py3langid.langid import classify

    classify("load")


def identify(text: str) -> str | None:
    """py3langid's language code for a text, or None when it has too few letters."""
    if len(_LETTER.findall(text)) < MIN_LETTERS:
        return None
    # Imported on first use: loading the model takes about a second and most commands never
    # identify a language.
    from py3langid.langid import classify

    code, _score = classify(text)
    return str(code) if code else None
