"""Urdu names in the matcher: spelling families, the traps of shared/URDU.md, the rules without
case, Urdu legal references, and the flag as it is stored (canonical names stay English)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.core.config import SHIPPED_WATCHLIST
from pipeline.match.aliases import load_rule_set
from pipeline.match.arabic_names import ArabicNames
from pipeline.match.matcher import Matcher
from pipeline.match.watchlist import load_watchlist
from pipeline.tools.evaluate import EVAL_DATA, load_eval_set

MATCHER = Matcher(load_watchlist(SHIPPED_WATCHLIST))
CONTEXT = "امریکی محکمہ خارجہ نے پاکستان کے بیلسٹک میزائل پروگرام کی وجہ سے پابندیاں عائد کیں۔"
NDC, AKHTAR, AFFILIATES, ROCKSIDE, ORDER = (
    "ofac-52049",
    "ofac-52051",
    "ofac-52052",
    "ofac-52053",
    "eo-13382",
)


def flagged(text: str, title: str = "خبر") -> dict[str, str]:
    """entity id -> the first mention as written."""
    return {m.entity_id: m.matched for m in MATCHER.match(title, text)}


@pytest.mark.parametrize(
    ("written", "entity"),
    [
        ("نیشنل ڈویلپمنٹ کمپلیکس", NDC),
        ("نیشنل ڈیولپمنٹ کمپلیکس", NDC),  # ی/و swapped
        ("نیشنل ڈویلپمنٹ کمپلکس", NDC),  # no ی
        ("نیشنل ڈویلپمنٹ کملیکس", NDC),  # a letter dropped
        ("نیشنلڈویلپمنٹ کمپلیکس", NDC),  # words run together
        ("نيشنل ڈويلپمنٹ كمپليكس", NDC),  # Arabic yeh and kaf (legacy encodings)
        ("اختر اینڈ سنز پرائیویٹ لمیٹڈ", AKHTAR),
        ("اختر اینڈ سنز (پرائیویٹ) لمیٹڈ", AKHTAR),
        ("اختر اینڈ سنز لمیٹڈ", AKHTAR),  # another legal form of the group
        ("اختر اینڈ سنز", AKHTAR),
        ("اختر اینڈ سن", AKHTAR),  # singular
        ("اختراینڈسنز", AKHTAR),
        ("ایفیلیئٹس انٹرنیشنل", AFFILIATES),
        ("ایفیلیٹس انٹرنیشنل", AFFILIATES),  # without ئ
        ("ایفیلی ایٹس انٹرنیشنل", AFFILIATES),  # split in two
        ("ایفیلی\u200cایٹس انٹرنیشنل", AFFILIATES),  # ZWNJ
        ("راک سائیڈ انٹرپرائز", ROCKSIDE),
        ("روک سائیڈ انٹرپرائز", ROCKSIDE),  # راک / روک
        ("راک سائیڈ اینٹر پرائزز", ROCKSIDE),  # split, plural
        ("راک سائیڈ انٹرپرائیزز", ROCKSIDE),
        ("راک سائیڈ انڑپرائز", ROCKSIDE),  # ڑ typed for ٹ
        ("راک سائیڈ", ROCKSIDE),  # without its last word, with the entity's context
    ],
)
def test_spelling_families_match(written: str, entity: str) -> None:
    found = flagged(f"کراچی کی کمپنی {written} پر {CONTEXT}")
    assert found.get(entity) == written


@pytest.mark.parametrize(
    "written",
    [
        "نیشنل ڈویلپمنٹ کونسل",  # Pakistan's National Development Council
        "نیشنل ڈویلپمنٹ کونسل (این ڈی سی)",
        "کیپٹل ڈیولپمنٹ اتھارٹی",
        "اسپورٹس کمپلیکس",
        "ریور سائیڈ انٹرپرائزز",  # another Karachi firm
        "راشد انٹرپرائزز",
        "واشنگٹن ڈی سی",
        "ایگزیکٹو ٹریولز",
        "عدالت کے آرڈرز",
        "ایگزیکٹو آرڈر",  # without a number: no mention of 13382
        "انتظامی حکم",
        "13382",  # a bare number
        "فلیٹس انٹرنیشنل",  # flats: the skeleton of ایفیلیئٹس, other letters
    ],
)
def test_traps_do_not_flag(written: str) -> None:
    assert flagged(f"اسلام آباد میں {written} کا اجلاس ہوا۔ {CONTEXT}") == {}


def test_the_acronym_alone_needs_strong_context() -> None:
    council = "اسلام آباد میں این ڈی سی کا اجلاس ہوا اور ترقیاتی بجٹ پر پابندی کی بات ہوئی۔"
    assert flagged(council) == {}
    missile = "این ڈی سی شاہین میزائل کے لیے راکٹ موٹر اور لانچر بناتا ہے، امریکی پابندیاں لگیں۔"
    assert flagged(missile) == {NDC: "این ڈی سی"}


def test_the_acronym_confirms_with_the_full_name() -> None:
    text = f"نیشنل ڈویلپمنٹ کمپلیکس (این ڈی سی) پر پابندی لگی۔ {CONTEXT} این ڈی سی نے کہا۔"
    match = next(m for m in MATCHER.match("خبر", text) if m.entity_id == NDC)
    assert [m.matched for m in match.mentions] == [
        "نیشنل ڈویلپمنٹ کمپلیکس",
        "این ڈی سی",
        "این ڈی سی",
    ]


def test_names_of_everyday_words_need_their_entitys_context() -> None:
    assert flagged("ہنزہ میں راک سائیڈ انٹرپرائز کا ہوٹل سیاحوں سے بھر گیا۔") == {}
    assert flagged("ایفیلیئٹس انٹرنیشنل کی ویب سائٹ پر مارکیٹنگ کورس۔") == {}
    assert ROCKSIDE in flagged(f"راک سائیڈ انٹرپرائز پر {CONTEXT}")


def test_a_distinctive_strong_name_flags_on_its_own() -> None:
    assert flagged("اختر اینڈ سنز پرائیویٹ لمیٹڈ نے بیان جاری کیا۔") == {
        AKHTAR: "اختر اینڈ سنز پرائیویٹ لمیٹڈ"
    }
    assert flagged("فیصل آباد کے کپڑا بازار میں اختر اینڈ سنز کی دکان پر رش۔") == {}


@pytest.mark.parametrize(
    "written",
    [
        "ایگزیکٹو آرڈر 13382",
        "ایگزیکٹو آرڈر ۱۳۳۸۲",
        "ایگزیکٹو آرڈر ١٣٣٨٢",
        "ایگزیکٹو آرڈر13382",
        "ایگزیکٹو آرڈر (ای او) 13382",
        "ایگزیکٹو آرڈر نمبر 13382",
        "ایگزیکیٹیو آرڈر 13382",
        "ایگزیکٹو آرڈرز 13224 اور 13382",
        "ای او 13382",
    ],
)
def test_urdu_references_to_the_order(written: str) -> None:
    assert flagged(f"چینی کمپنیوں پر {written}کے تحت پابندی۔") == {ORDER: written}


def test_an_order_number_inside_a_longer_number_is_no_reference() -> None:
    assert flagged("ایگزیکٹو آرڈر 133820 کے تحت") == {}
    assert flagged("ایگزیکٹو آرڈر 13224 کے تحت") == {}


def test_mentions_keep_offsets_in_the_original_text() -> None:
    title = "نَیشنل ڈِویلپمنٹ کمپلـیـکس پر پابندی"
    text = f"کراچی: اختر اینڈ سنزنے کہا۔ ادارےاین ڈی سی پر {CONTEXT}"
    combined = f"{title}\n\n{text}"
    for match in MATCHER.match(title, text):
        for mention in match.mentions:
            assert combined[mention.start : mention.end] == mention.matched
    found = flagged(text, title)
    assert found[NDC] == "نَیشنل ڈِویلپمنٹ کمپلـیـکس"
    assert found[AKHTAR] == "اختر اینڈ سنز"  # without the glued postposition نے


def test_the_flag_keeps_english_canonical_names_and_the_text_as_written() -> None:
    text = f"امريكہ نے نيشنل ڈويلپمنٹ كمپليكس پر {CONTEXT}"
    (match,) = MATCHER.match("خبر", text)
    assert match.entity_name == "National Development Complex"
    assert match.matched == "نيشنل ڈويلپمنٹ كمپليكس"
    assert match.why["alias"] == "نیشنل ڈویلپمنٹ کمپلیکس"
    assert "«نيشنل ڈويلپمنٹ كمپليكس»" in match.snippet


def test_snippets_end_at_urdu_sentence_ends() -> None:
    before = "پہلی بات یہ ہے کہ " * 20 + "سب ٹھیک ہے۔ "
    sentence = "نیشنل ڈویلپمنٹ کمپلیکس پر " + "بیلسٹک میزائل پروگرام کی وجہ سے امریکی پابندی " * 5
    text = f"{before}{sentence.strip()}؟ " + "آخر میں یہ کہ " * 20
    (match,) = MATCHER.match("خبر", text)
    assert match.snippet.startswith("«نیشنل ڈویلپمنٹ کمپلیکس» پر")  # no "…": a sentence starts
    assert match.snippet.endswith("امریکی پابندی؟")


def test_latin_names_inside_urdu_text_still_match() -> None:
    found = flagged(f"کراچی کی کمپنی Affiliates International اور {CONTEXT}")
    assert found == {AFFILIATES: "Affiliates International"}
    assert flagged("چینی کمپنی پر E.O. 13382 کے تحت پابندی") == {ORDER: "E.O. 13382"}


def test_skeleton_drops_weak_letters_and_one_plural_ending() -> None:
    names = ArabicNames(load_rule_set())
    assert names.skeleton("ڈویلپمنٹ") == names.skeleton("ڈیولپمنٹ") == "ڈلپمنٹ"
    assert names.skeleton("سنز") == names.skeleton("سن") == "سن"
    assert names.skeleton("کمپلیکس") == names.skeleton("کمپلکس")


URDU_PIECES = [
    "نیشنل",
    "ڈویلپمنٹ",
    "کمپلیکس",
    "این",
    "ڈی",
    "سی",
    "اختر",
    "اینڈ",
    "سنزنے",
    "ایگزیکٹو",
    "آرڈر13382کے",
    "۱۳۳۸۲",
    "میزائل",
    "پابندیاں",
    "\u200c",
    "\u064e",
    "\u0654",
    "\u0640",
    "،",
    "۔",
    " ",
    "\n\n",
    "(",
    "NDC",
    "ادارے",
]


@given(st.lists(st.sampled_from(URDU_PIECES), max_size=60), st.text(max_size=30))
@settings(max_examples=200, deadline=None)
def test_any_urdu_text_matches_without_error_and_offsets_hold(
    pieces: list[str], noise: str
) -> None:
    text = "".join(pieces) + noise
    combined = f"خبر\n\n{text}"
    for match in MATCHER.match("خبر", text):
        for mention in match.mentions:
            assert combined[mention.start : mention.end] == mention.matched
            assert mention.matched.strip() == mention.matched


def _all_forms(names: ArabicNames, tokens: object) -> dict[str, list[object]]:
    every: dict[str, list[object]] = {}
    for form in names._forms:
        every.setdefault(form.initial, []).append(form)
    return every


def test_the_bigram_filter_never_changes_what_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    names = MATCHER._arabic
    normalizer = load_rule_set().normalizer
    texts = [f"{a.title}\n\n{a.text}" for a in load_eval_set(EVAL_DATA / "eval-ur")]
    documents = [normalizer.document(text) for text in texts]
    filtered = [names.find(document) for document in documents]
    monkeypatch.setattr(ArabicNames, "_plausible_forms", _all_forms)
    assert [names.find(document) for document in documents] == filtered
    assert sum(map(len, filtered)) > 100
