"""Possible mentions and the generalised context rules, on the shipped watchlist."""

from __future__ import annotations

import pytest

from pipeline.core.config import SHIPPED_WATCHLIST
from pipeline.match.matcher import Matcher
from pipeline.match.possible import PER_DOCUMENT, SCORE_FLOOR
from pipeline.match.watchlist import Watchlist, WatchlistEntity, load_watchlist

ROCKSIDE = "ofac-52053"


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(load_watchlist(SHIPPED_WATCHLIST))


def outcome(matcher: Matcher, text: str, title: str = "Report") -> tuple[set[str], set[str]]:
    matches, candidates = matcher.match_all(title, text)
    return {m.entity_id for m in matches}, {c.entity_id for c in candidates}


def test_city_and_enforcement_wording_make_a_flag_without_the_word_sanction(
    matcher: Matcher,
) -> None:
    court = (
        "A Karachi banking court on Monday refused to unfreeze the accounts of Rockside "
        "Enterprise, whose frozen accounts the bank said it could not release while the firm "
        "remained on a US list."
    )
    [match] = matcher.match("Court keeps accounts frozen", court)
    assert (match.entity_id, match.rule) == (ROCKSIDE, "common-words+context")
    assert "Karachi" in match.why["context"] and "frozen accounts" in match.why["context"]


def test_the_entitys_own_city_in_the_same_paragraph_corroborates_a_title_case_name(
    matcher: Matcher,
) -> None:
    same = "Rockside Enterprise, a trading house in Karachi, opened a second warehouse."
    assert outcome(matcher, same) == ({ROCKSIDE}, set())
    elsewhere = "Rockside Enterprise opened a second warehouse.\n\nKarachi had rain on Monday."
    flags, offered = outcome(matcher, elsewhere)
    assert flags == set() and offered == {ROCKSIDE}  # another paragraph: only possible


def test_a_common_word_name_without_context_is_a_candidate_never_nothing(
    matcher: Matcher,
) -> None:
    matches, [candidate] = matcher.match_all("Shop news", "Rockside Enterprise sells rugs.")
    assert matches == []
    assert candidate.entity_id == ROCKSIDE and candidate.matched == "Rockside Enterprise"
    assert candidate.reason == "common-word name, no corroborating context within 60 words"
    assert SCORE_FLOOR <= candidate.score < 0.55
    assert (candidate.start, candidate.end) == (11, 30)  # into "Shop news\n\n" + text
    lower = matcher.match_all("Shop news", "the rockside enterprise store sells rugs.")[1]
    assert [c.reason for c in lower] == [
        "written 'rockside enterprise': a common-word name must be in title case or capitals"
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Ghana's National Democratic Congress (NDC) said on Sunday that the NDC flagbearer "
        "John Mahama would face no party sanctions, and NDC supporters gathered in Accra.",
        "Pakistan submitted its updated nationally determined contributions to the UNFCCC. "
        "The NDCs set emission targets, and the new NDC raises climate finance goals.",
        "The FDA assigns each medicine a National Drug Code (NDC). Pharmacists in Pakistan "
        "read the NDC on the label before a prescription is filled.",
        "Rockside Road in Independence, Ohio, will close for resurfacing. Drivers heading to "
        "Rockside Road businesses were told to use the Cleveland detour through Cuyahoga.",
    ],
    ids=["ghana-ndc", "climate-ndcs", "drug-code", "rockside-road"],
)
def test_other_meanings_make_neither_flag_nor_candidate(matcher: Matcher, text: str) -> None:
    assert outcome(matcher, text) == (set(), set())


def test_the_watchlist_name_with_entity_context_still_stands_beside_other_meanings(
    matcher: Matcher,
) -> None:
    text = (
        "Rockside Road in Ohio will close next week.\n\nSeparately, Washington designated "
        "Pakistan's National Development Complex and the Karachi firm Rockside Enterprise."
    )
    flags, _offered = outcome(matcher, text)
    assert {"ofac-52049", ROCKSIDE} <= flags


def test_a_statement_that_rules_the_entity_out_outranks_positive_context(
    matcher: Matcher,
) -> None:
    ohio = (
        "Rockside Enterprise of Seven Hills has no connection to a similarly named Karachi "
        "company designated by the US State Department for sanctions, its owner said."
    )
    matches, [candidate] = matcher.match_all("Statement", ohio)
    assert matches == []
    assert "ruled out by a disambiguating statement (similarly named Karachi)" in candidate.reason
    karachi = (
        "Rockside Enterprise of Karachi, not to be confused with a similarly named Ohio "
        "contractor, was designated by the US State Department on Wednesday."
    )
    assert outcome(matcher, karachi)[0] == {ROCKSIDE}


def test_an_order_number_without_executive_needs_context(matcher: Matcher) -> None:
    listed = "Washington listed the National Development Complex under order 13382 on Wednesday."
    assert "eo-13382" in outcome(matcher, listed)[0]
    court = "The court's order 13382 of Monday settled a land dispute between two brothers."
    assert outcome(matcher, court) == (set(), set())


def test_a_weak_alias_needs_its_entitys_own_context_to_be_offered(matcher: Matcher) -> None:
    shop = "Akhtar and Sons, the grocer on Mall Road, extended its opening hours."
    assert outcome(matcher, shop) == (set(), set())
    closer = "Akhtar and Sons, near Emerald Tower in Karachi, Pakistan, extended its hours."
    assert outcome(matcher, closer)[0] == {"ofac-52051"}  # entity-specific: a flag


def test_candidates_are_capped_per_document() -> None:
    words = ["River", "Garden", "Market", "Valley", "Summit", "Silver", "Bridge", "Forest"]
    entities = [  # names of everyday words, no country: none confirms another
        WatchlistEntity(id=f"e{i}", name=f"{word} Enterprise") for i, word in enumerate(words)
    ]
    matcher = Matcher(Watchlist(entities=entities))
    text = " ".join(f"{word} Enterprise opened a shop." for word in words)
    matches, candidates = matcher.match_all("Shops", text)
    assert matches == [] and len(candidates) == PER_DOCUMENT
    assert len({c.entity_id for c in candidates}) == PER_DOCUMENT  # one per entity


def test_match_and_match_all_agree_on_flags(matcher: Matcher) -> None:
    text = "The US designated Pakistan's National Development Complex under E.O. 13382."
    assert matcher.match("T", text) == matcher.match_all("T", text).matches
