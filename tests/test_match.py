"""The matching rules of pipeline/match/matcher.py, one by one, on the shipped watchlist."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.core.config import SHIPPED_WATCHLIST
from pipeline.core.records import EntityMatch
from pipeline.match.matcher import Matcher
from pipeline.match.watchlist import Watchlist, WatchlistEntity, load_watchlist

NDC = "ofac-52049"
AKHTAR = "ofac-52051"
AFFILIATES = "ofac-52052"
ROCKSIDE = "ofac-52053"
EO = "eo-13382"

MISSILE_CONTEXT = "The Islamabad-based developer of the Shaheen ballistic missiles was designated."
KARACHI_CONTEXT = (
    "The Karachi firm, based in Keamari near Timber Pond, was designated on Wednesday."
)


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(load_watchlist(SHIPPED_WATCHLIST))


def flagged(matcher: Matcher, text: str, title: str = "News") -> dict[str, EntityMatch]:
    return {m.entity_id: m for m in matcher.match(title, text)}


# ---- normalisation ---------------------------------------------------------------------------


def test_fullwidth_and_case_are_folded(matcher: Matcher) -> None:
    text = (
        "Officials named the ＮＡＴＩＯＮＡＬ ＤＥＶＥＬＯＰＭＥＮＴ ＣＯＭＰＬＥＸ in a statement."
    )
    match = flagged(matcher, text)[NDC]
    assert match.matched == "ＮＡＴＩＯＮＡＬ ＤＥＶＥＬＯＰＭＥＮＴ ＣＯＭＰＬＥＸ"
    assert match.rule == "strong-alias"


def test_no_break_spaces_and_line_breaks_are_whitespace(matcher: Matcher) -> None:
    text = "Added: National\u00a0Development\nComplex and Akhtar\u00a0&\u00a0Sons\u00a0Pvt Ltd."
    found = flagged(matcher, text)
    assert found[NDC].matched == "National\u00a0Development\nComplex"
    assert found[AKHTAR].matched == "Akhtar\u00a0&\u00a0Sons\u00a0Pvt Ltd"


def test_a_paragraph_break_ends_a_name(matcher: Matcher) -> None:
    assert NDC not in flagged(matcher, "Plans for National Development\n\nComplex rules apply.")


@pytest.mark.parametrize(
    "written",
    [
        "Akhtar and Sons Private Limited",
        "Akhtar & Sons Private Limited",
        "AKHTAR AND SONS PVT LTD.",
        "Akhtar and Sons (Private) Limited",
        "Akhtar and Sons Pvt Ltd",
        "Akhtar and Sons (Pvt.) Ltd.",
        "Akhtar & Sons Pvt. Limited",
        "Akhtar and Sons Ltd",
        "akhtar and sons pvt. ltd.",
    ],
)
def test_legal_form_equivalences(matcher: Matcher, written: str) -> None:
    match = flagged(matcher, f"Customs flagged a consignment for {written} on Monday.")[AKHTAR]
    assert match.rule == "strong-alias"
    assert match.matched.rstrip(".") == written.rstrip(".")


@pytest.mark.parametrize(
    "written",
    [
        "M/s Affiliates International",
        "Messrs Affiliates International",
        "MS AFFILIATES INTERNATIONAL",
    ],
)
def test_name_prefixes_are_dropped(matcher: Matcher, written: str) -> None:
    match = flagged(matcher, f"{written} was listed. {KARACHI_CONTEXT}")[AFFILIATES]
    assert match.matched.upper() == "AFFILIATES INTERNATIONAL"


def test_trailing_plural_is_tolerated_for_organisations(matcher: Matcher) -> None:
    match = flagged(matcher, "Rockside Enterprises, DHA Phase 5, Karachi, was designated.")[
        ROCKSIDE
    ]
    assert match.matched == "Rockside Enterprises"


def test_an_apostrophe_abbreviation_matches(matcher: Matcher) -> None:
    assert AFFILIATES in flagged(
        matcher, f"M/s Affiliates Int'l filed the papers. {KARACHI_CONTEXT}"
    )


def test_possessive_is_not_part_of_the_name(matcher: Matcher) -> None:
    match = flagged(matcher, "The National Development Complex's launchers were named.")[NDC]
    assert match.matched == "National Development Complex"


def test_whole_words_only(matcher: Matcher) -> None:
    assert flagged(matcher, "A Supranational Development Complexity index was published.") == {}


def test_sentence_boundary_ends_a_name(matcher: Matcher) -> None:
    text = "The plan is a road map for National Development. Complex reforms will follow."
    assert NDC not in flagged(matcher, text)


def test_abbreviation_full_stop_is_not_a_sentence_end(matcher: Matcher) -> None:
    text = "Akhtar and Sons Pvt. Ltd. said it would appeal. The firm denied wrongdoing."
    assert flagged(matcher, text)[AKHTAR].matched == "Akhtar and Sons Pvt. Ltd"


def test_a_comma_separated_tag_list_is_not_a_name(matcher: Matcher) -> None:
    assert flagged(matcher, "Tags: Islamabad, National, Development, Complex, Housing") == {}


def test_a_comma_before_a_legal_form_is_tolerated(matcher: Matcher) -> None:
    assert AKHTAR in flagged(matcher, "Payment to Akhtar and Sons, Pvt. Ltd. was stopped.")


# ---- weak aliases and acronyms ---------------------------------------------------------------


def test_weak_acronym_alone_does_not_flag(matcher: Matcher) -> None:
    assert flagged(matcher, "The NDC met on Tuesday to discuss its budget for next year.") == {}


def test_weak_acronym_in_the_entitys_context_flags(matcher: Matcher) -> None:
    match = flagged(matcher, f"Washington targeted NDC again. {MISSILE_CONTEXT}")[NDC]
    assert match.rule == "weak-alias+context"
    assert match.why["strength"] == "weak"
    context = match.why["context"]
    assert isinstance(context, list)
    assert "Shaheen" in context
    assert 0.5 < match.score < 1


def test_weak_alias_confirmed_by_a_strong_name(matcher: Matcher) -> None:
    text = "NDC was listed. The National Development Complex denies it. NDC has no US assets."
    match = flagged(matcher, text, title="Update")[NDC]
    assert match.rule == "weak-alias+strong-name"
    assert [m.matched for m in match.mentions] == ["NDC", "National Development Complex", "NDC"]


@pytest.mark.parametrize(
    "text",
    [
        "Ghana's National Democratic Congress (NDC) won in Accra, where Mahama faced sanctions "
        "talk and missiles were never mentioned.",
        "Pakistan submitted its updated NDC to the UNFCCC in Islamabad, raising its renewables "
        "target and cutting emissions under the Paris Agreement.",
        "Check the NDC, or National Drug Code, on the label; the FDA lists recalled drugs.",
        "Officers finished the course at the National Defence College; the NDC also studied "
        "Pakistan's Shaheen missiles and US sanctions.",
    ],
)
def test_other_meanings_of_the_acronym_never_flag(matcher: Matcher, text: str) -> None:
    assert NDC not in flagged(matcher, text)


def test_acronym_must_be_in_capitals(matcher: Matcher) -> None:
    assert NDC not in flagged(matcher, f"The ndc team met. {MISSILE_CONTEXT}")


def test_country_names_alone_are_no_context(matcher: Matcher) -> None:
    text = "Akhtar and Sons Goods Transport of Quetta says Pakistani traders suffer from sanctions."
    assert AKHTAR not in flagged(matcher, text)


def test_weak_name_in_lower_case_does_not_flag(matcher: Matcher) -> None:
    text = "Javed Akhtar and sons Farhan and Zoya spoke in Karachi about the designation."
    assert AKHTAR not in flagged(matcher, text)


# ---- names made of common words -------------------------------------------------------------


def test_common_words_name_in_lower_case_never_flags(matcher: Matcher) -> None:
    text = f"The group will wind down its affiliates international roaming. {KARACHI_CONTEXT}"
    assert AFFILIATES not in flagged(matcher, text)


def test_common_words_name_in_title_case_without_context(matcher: Matcher) -> None:
    text = "Affiliates International, the performance marketing summit, returns to Las Vegas."
    assert AFFILIATES not in flagged(matcher, text)


def test_common_words_name_with_context(matcher: Matcher) -> None:
    match = flagged(matcher, f"Affiliates International was listed. {KARACHI_CONTEXT}")[AFFILIATES]
    assert match.rule == "common-words+context"
    context = match.why["context"]
    assert isinstance(context, list)
    assert {"Keamari", "Timber Pond"} <= set(context)


def test_another_watchlist_name_corroborates(matcher: Matcher) -> None:
    text = "Rockside Trading supplied parts to the National Development Complex, officials said."
    match = flagged(matcher, text)[ROCKSIDE]
    assert match.why["confirmed_by"] == [NDC]


def test_negative_context_outranks_weak_evidence(matcher: Matcher) -> None:
    positive = "Rockside Enterprise was designated under sanctions rules."
    assert ROCKSIDE in flagged(matcher, positive)
    negative = positive + " Its office is on Rockside Road in Cleveland, Ohio."
    assert ROCKSIDE not in flagged(matcher, negative)


def test_other_rockside_places_do_not_flag(matcher: Matcher) -> None:
    text = "An office park on Rockside Road in Independence, Ohio was sold for $18 million."
    assert flagged(matcher, text) == {}


# ---- legal references -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    [
        "E.O. 13382",
        "EO 13382",
        "EO13382",
        "E.O.13382",
        "Executive Order 13382",
        "Executive Order (E.O.) 13382",
        "Executive Order (EO) 13382",
        "Executive Order No. 13382",
        "EO-13382",
        "E. O. 13382",
        "executive order 13382",
    ],
)
def test_executive_order_written_forms(matcher: Matcher, written: str) -> None:
    match = flagged(matcher, f"They were designated under {written} on Wednesday.")[EO]
    assert match.rule == "legal-reference"
    assert match.matched == written


def test_executive_orders_in_a_list(matcher: Matcher) -> None:
    match = flagged(matcher, "Designations under Executive Orders 13224 and 13382 grew.")[EO]
    assert match.matched == "Executive Orders 13224 and 13382"


@pytest.mark.parametrize(
    "text",
    [
        "A crowd of 13382 watched the game.",
        "A crowd of 13,382 watched the game.",
        "The authority's order No. 13382 of 2024 was suspended.",
        "Designated under E.O. 13224 and Executive Order 14024.",
        "Executive Order 133820 does not exist.",
    ],
)
def test_bare_numbers_and_other_orders_never_flag(matcher: Matcher, text: str) -> None:
    assert EO not in flagged(matcher, text)


# ---- persons and imported lists -------------------------------------------------------------


def person_matcher() -> Matcher:
    return Matcher(
        Watchlist(
            entities=[
                WatchlistEntity(id="p-1", name="KHAN, Abdul Qadeer", kind="person"),
                WatchlistEntity(id="p-2", name="AKHTAR", kind="person"),
                WatchlistEntity(id="o-1", name="MS-13", strong_aliases=["MARA SALVATRUCHA"]),
            ]
        )
    )


def test_person_names_need_two_parts() -> None:
    matcher = person_matcher()
    assert flagged(matcher, "Mr Khan and Mr Akhtar met in Lahore; Akhtar spoke first.") == {}
    match = flagged(matcher, "Abdul Qadeer Khan died in Islamabad.")["p-1"]
    assert match.matched == "Abdul Qadeer Khan"
    assert "p-1" in flagged(matcher, "Scientist Abdul Khan was named.")


def test_person_names_need_title_case() -> None:
    assert flagged(person_matcher(), "the abdul qadeer khan road was closed") == {}


def test_prefix_like_start_is_kept_when_nothing_else_is_left() -> None:
    matcher = person_matcher()
    assert flagged(matcher, "Attendance was 13 percent lower.") == {}
    assert (
        flagged(matcher, "The MS-13 gang, also Mara Salvatrucha, was sanctioned.")["o-1"].count == 2
    )


def test_an_empty_watchlist_matches_nothing() -> None:
    assert Matcher(Watchlist()).match("National Development Complex", "E.O. 13382") == []


def test_a_large_list_compiles_and_matches() -> None:
    rng = random.Random(7)
    syllables = ["ka", "zo", "ri", "tan", "vel", "mur", "qes", "dor", "pli", "xan", "bek"]
    entities = [
        WatchlistEntity(
            id=f"x-{index}", name=" ".join("".join(rng.sample(syllables, 3)) for _ in range(3))
        )
        for index in range(20_000)
    ]
    needle = entities[12_345]
    matcher = Matcher(Watchlist(entities=entities))
    found = matcher.match("Trade", f"Banks refused a payment to {needle.name.title()} last week.")
    assert needle.id in {m.entity_id for m in found}


# ---- offsets, snippets, why ------------------------------------------------------------------


def test_offsets_index_the_title_and_text_document(matcher: Matcher) -> None:
    title = "NDC listed"
    text = "Washington named the National Development Complex. Later the NDC replied."
    document = f"{title}\n\n{text}"
    match = flagged(matcher, text, title=title)[NDC]
    assert [document[m.start : m.end] for m in match.mentions] == [
        m.matched for m in match.mentions
    ]
    assert match.mentions[0].start == 0
    assert match.mentions[1].start == len(title) + 2 + text.index("National")
    assert match.count == 3
    assert match.matched == "NDC"


def test_snippet_marks_the_first_mention_in_its_sentence(matcher: Matcher) -> None:
    filler = "Markets were calm and the rupee was steady against the dollar in early trade. " * 6
    text = f"{filler}Officials said Akhtar and Sons Private Limited imported chassis. {filler}"
    snippet = flagged(matcher, text)[AKHTAR].snippet
    assert "«Akhtar and Sons Private Limited»" in snippet
    assert "Officials said «Akhtar" in snippet
    assert 200 <= len(snippet) <= 310
    assert snippet.count("«") == snippet.count("»") == 1


def test_snippet_of_a_long_sentence_is_cut_around_the_mention(matcher: Matcher) -> None:
    words = " ".join(f"word{n}" for n in range(120))
    text = f"{words} National Development Complex {words}."
    snippet = flagged(matcher, text)[NDC].snippet
    assert "«National Development Complex»" in snippet
    assert len(snippet) <= 310
    assert "word60 " not in snippet  # far words are cut, whole words only
    assert snippet.startswith("…") and snippet.endswith("…")
    outside = snippet.replace("«National Development Complex»", " ").strip("…").split()
    assert all(re.fullmatch(r"word\d+", word) for word in outside)  # no word cut in half


def test_snippet_of_a_short_document_is_the_document(matcher: Matcher) -> None:
    match = flagged(matcher, "See E.O. 13382.", title="")[EO]
    assert match.snippet == "See «E.O. 13382»."


@settings(max_examples=60, deadline=None)
@given(
    before=st.text(alphabet=st.sampled_from("ab Z.,;:-'\n\u00a0&"), max_size=60),
    after=st.text(alphabet=st.sampled_from("ab Z.,;:-'\n\u00a0&"), max_size=60),
)
def test_offsets_and_snippets_hold_for_any_surrounding_text(before: str, after: str) -> None:
    matcher = Matcher(load_watchlist(SHIPPED_WATCHLIST))
    text = f"{before} Executive Order 13382 {after}"
    document = f"T\n\n{text}"
    for match in matcher.match("T", text):
        for mention in match.mentions:
            assert document[mention.start : mention.end] == mention.matched
        assert f"«{' '.join(match.matched.split())}»" in match.snippet


# ---- the prefilter -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def unfiltered() -> Matcher:
    matcher = Matcher(load_watchlist(SHIPPED_WATCHLIST))
    matcher._prefilter = None  # every text goes through the tokenizer
    return matcher


@pytest.fixture(scope="module")
def prefiltered() -> Matcher:
    matcher = Matcher(load_watchlist(SHIPPED_WATCHLIST))
    matcher.prefilter_sample = 10**9  # never judged: the prefilter stays on for these tests
    return matcher


def test_prefilter_changes_no_result_on_the_eval_set(
    prefiltered: Matcher, unfiltered: Matcher
) -> None:
    matcher = prefiltered
    from pipeline.tools.evaluate import DEFAULT_EVAL_DIR, load_eval_set

    articles = load_eval_set(DEFAULT_EVAL_DIR)
    skipped = 0
    for article in articles:
        assert matcher.match(article.title, article.text) == unfiltered.match(
            article.title, article.text
        ), article.id
        skipped += not matcher._may_match(f"{article.title}\n\n{article.text}")
    assert skipped > 0  # the eval set has articles that name no watchlist word at all


_PIECES = [
    "National", "Development", "Complex", "Complex's", "NDC", "N.D.C.", "Akhtar", "&", "and",
    "Sons", "Pvt.", "(Private)", "Limited", "Ltd", "Affiliates", "Int'l", "International",
    "Rockside", "Enterprise", "E.O.", "Executive", "Order", "EO", "13382", "13,382", "Karachi",
    "Pakistan", "missile", "sanctions", ".", ",", "\n\n", "’s", "ＮＤＣ", "Développement",
    "EO13382", "No.13382", "E.O.13382", "EO-13382", "13382s", "NDCs", "Akhtar's",
    "National Development Complex", "Akhtar and Sons Private Limited", "Akhtar & Sons (Pvt.) Ltd",
    "Affiliates International", "Rockside Enterprise", "Executive Order 13382", "E.O. 13382",
    "designated", "ballistic", "Islamabad", "Treasury", "OFAC",
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=14))
def test_prefilter_never_hides_a_match(
    prefiltered: Matcher, unfiltered: Matcher, words: list[str]
) -> None:
    matcher = prefiltered
    text = " ".join(words)
    assert matcher.match("News", text) == unfiltered.match("News", text)


def test_prefilter_drops_itself_when_most_texts_pass() -> None:
    from pipeline.match.matcher import PREFILTER_SAMPLE

    matcher = Matcher(load_watchlist(SHIPPED_WATCHLIST))
    naming = "The Treasury designated the National Development Complex in Islamabad."
    results = {repr(matcher.match("News", naming)) for _ in range(PREFILTER_SAMPLE)}
    assert matcher._prefilter is None  # every text passed: the check only cost time
    assert results == {repr(matcher.match("News", naming))} and "ofac-52049" in results.pop()

    quiet = Matcher(load_watchlist(SHIPPED_WATCHLIST))
    for _ in range(PREFILTER_SAMPLE):
        assert quiet.match("News", "Rain is expected in Lahore on Sunday.") == []
    assert quiet._prefilter is not None  # it pays off: kept
