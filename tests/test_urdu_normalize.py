"""The Arabic-script folds, row by row against the normalisation table of shared/URDU.md, and the
Urdu tokenising (offsets in the original text, digits split from letters, Urdu punctuation)."""

from __future__ import annotations

import unicodedata

import pytest

from pipeline.match.aliases import load_rule_set
from pipeline.match.arabic import compose, fold_arabic_char
from pipeline.match.normalize import BARRIER, COMMA, fold

NORMALIZER = load_rule_set().normalizer


def folded(text: str) -> str:
    return fold(text)[0]


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("\u064a", "\u06cc"),  # Arabic yeh -> Farsi/Urdu yeh
        ("\u0649", "\u06cc"),  # alef maksura
        ("\u06cc", "\u06cc"),
        ("\u0643", "\u06a9"),  # Arabic kaf -> keheh
        ("\u0647", "\u06c1"),  # Arabic heh -> heh goal
        ("\u0629", "\u06c1"),  # teh marbuta
        ("\u06c3", "\u06c1"),  # teh marbuta goal
    ],
)
def test_letter_folds(written: str, expected: str) -> None:
    assert unicodedata.category(written) == "Lo"
    assert folded(f"ب{written}") == f"ب{expected}"


@pytest.mark.parametrize("kept", ["\u06d2", "\u06be"])  # yeh barree ے, do-chashmi heh ھ
def test_yeh_barree_and_do_chashmi_heh_are_never_folded(kept: str) -> None:
    assert folded(f"ک{kept}") == f"ک{kept}"
    assert folded("کے") != folded("کی")
    assert folded("تھا") != folded("تہا")


@pytest.mark.parametrize(
    ("decomposed", "composed"),
    [
        ("\u0627\u0653", "\u0622"),  # ا + madda = آ
        ("\u0627\u0654", "\u0623"),  # ا + hamza = أ
        ("\u06d2\u0654", "\u06d3"),  # ے + hamza = ۓ
        ("\u06c1\u0654", "\u06c2"),  # ہ + hamza = ۂ
        ("\u064a\u0654", "\u0626"),  # ي + hamza = ئ (NFC)
        ("\u06cc\u0654", "\u0626"),  # ی + hamza: no precomposed form, mapped to ئ
    ],
)
def test_hamza_and_madda_compose(decomposed: str, composed: str) -> None:
    assert folded(f"ک{decomposed}") == f"ک{composed}"


def test_the_urdu_yeh_pair_is_not_composed_by_unicode_itself() -> None:
    assert unicodedata.normalize("NFC", "\u06cc\u0654") != "\u0626"
    assert compose("\u06cc", "\u0654") == "\u0626"


def test_precomposed_hamza_is_never_stripped() -> None:
    assert folded("کوئی") == "کوئی"  # not کوی: NFD would split ئ into ي + U+0654
    assert folded("آرڈر") == "آرڈر"
    assert unicodedata.normalize("NFD", "\u0626") == "\u064a\u0654"


@pytest.mark.parametrize(
    "mark", [chr(c) for c in range(0x064B, 0x0653)] + [chr(c) for c in range(0x0655, 0x0660)]
)
def test_harakat_are_dropped(mark: str) -> None:
    assert unicodedata.category(mark) == "Mn"
    assert folded(f"اختر{mark}") == "اختر"


@pytest.mark.parametrize("dropped", ["\u0670", "\u0640"])  # superscript alef, tatweel
def test_superscript_alef_and_tatweel_are_dropped(dropped: str) -> None:
    assert folded(f"کمپل{dropped}یکس") == "کمپلیکس"


@pytest.mark.parametrize(
    "invisible",
    [chr(c) for c in range(0x200B, 0x2010)]
    + ["\u061c"]
    + [chr(c) for c in range(0x202A, 0x202F)]
    + [chr(c) for c in range(0x2066, 0x206A)]
    + ["\ufeff"],
)
def test_invisible_formatting_characters_are_dropped(invisible: str) -> None:
    assert unicodedata.category(invisible) == "Cf"
    assert folded(f"ایفیلی{invisible}ایٹس") == "ایفیلیایٹس"


@pytest.mark.parametrize("zero", [0x0660, 0x06F0])  # Arabic-Indic, Extended Arabic-Indic
def test_every_digit_system_folds_to_ascii(zero: int) -> None:
    digits = "".join(chr(zero + d) for d in range(10))
    assert all(unicodedata.category(d) == "Nd" for d in digits)
    assert folded(f"آرڈر {digits}") == "آرڈر 0123456789"


def test_nfkc_comes_first_then_the_letter_folds() -> None:
    # Presentation forms land on Arabic letters (kaf U+0643, heh U+0647, yeh U+064A) under NFKC,
    # so the letter folds must run after it.
    assert unicodedata.normalize("NFKC", "\ufedb") == "\u0643"
    assert fold_arabic_char("\ufedb") == "\u06a9"  # initial kaf
    assert fold_arabic_char("\ufeeb") == "\u06c1"  # initial heh
    assert fold_arabic_char("\ufef3") == "\u06cc"  # initial yeh
    assert folded("\ufef5") == "\u0644\u0622"  # lam-alef with madda


def test_legacy_arabic_spelling_folds_to_the_urdu_one() -> None:
    assert folded("نيشنل ڈويلپمنٹ كمپليكس") == folded("نیشنل ڈویلپمنٹ کمپلیکس")


def test_latin_text_in_an_urdu_document_folds_as_before() -> None:
    assert folded("E.O. 13382 کے تحت Société") == "e.o. 13382 کے تحت societe"


def test_offsets_point_into_the_original_text() -> None:
    text = "نَیشنل ڈِویلپمنٹ کمپلـیـکس\u200c کے"
    document = NORMALIZER.document(text)
    words = [(t.text, text[t.start : t.end]) for t in document.tokens]
    assert words == [
        ("نیشنل", "نَیشنل"),
        ("ڈویلپمنٹ", "ڈِویلپمنٹ"),
        ("کمپلیکس", "کمپلـیـکس"),
        ("کے", "کے"),
    ]


def test_digits_glued_to_urdu_words_are_words_of_their_own() -> None:
    text = "ایگزیکٹو آرڈر13382کے تحت، ۱۹دسمبر"
    assert NORMALIZER.words(text) == [
        "ایگزیکٹو",
        "آرڈر",
        "13382",
        "کے",
        "تحت",
        COMMA,
        "19",
        "دسمبر",
    ]
    document = NORMALIZER.document(text)
    number = document.tokens[2]
    assert text[number.start : number.end] == "13382"


def test_urdu_full_stop_and_question_mark_end_sentences() -> None:
    text = "پہلا جملہ۔ دوسرا جملہ؟ تیسرا"
    document = NORMALIZER.document(text)
    assert [t.text for t in document.tokens].count(BARRIER) == 2
    assert [text[:b] for b in document.sentence_breaks] == ["پہلا جملہ۔", "پہلا جملہ۔ دوسرا جملہ؟"]


def test_no_space_after_the_urdu_comma() -> None:
    assert NORMALIZER.words("کمپلیکس،اختر") == ["کمپلیکس", COMMA, "اختر"]
