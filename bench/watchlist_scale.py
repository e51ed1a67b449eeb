"""Watchlist scale: match time per article with the shipped watchlist vs 20,000 names.

The large watchlist is generated: sanctions-list-like organisations ("Al Noor General
Trading LLC", "Eastern Star Shipping Company Limited") and people ("Muhammad Tariq
Qureshi"), each with strong aliases (upper-case spellings, legal-form variants, a name
order swap) and weak ones (acronyms, short names), countries, programmes and addresses, as
an OFAC import would give. The documents are the human-checked article texts of the news
corpus; each is matched with both compiled matchers and the median per-article time kept.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

from bench.corpus import ground_truth
from pipeline.core.config import SHIPPED_WATCHLIST
from pipeline.match.matcher import Matcher
from pipeline.match.watchlist import Watchlist, WatchlistEntity, load_watchlist


def _words(text: str, separator: str | None = None) -> list[str]:
    return text.split(separator)


_FIRST = _words(
    "Muhammad Ahmed Ali Hassan Hussain Omar Yusuf Ibrahim Khalid Tariq Imran Bilal Farhan "
    "Sergei Alexei Dmitri Viktor Igor Oleg Pavel Nikolai Andrei Yuri Mikhail Boris Ivan Li Wei "
    "Zhang Wang Chen Liu Yang Huang Zhao Kim Park Choi Reza Hamid Javad Mahmoud Ali Reza "
    "Carlos Jose Luis Miguel Juan Pedro Rafael Jorge Hugo Daniel Samuel John Robert James"
)
_LAST = _words(
    "Khan Qureshi Siddiqui Malik Chaudhry Sheikh Butt Akhtar Rashid Farooqui Mirza Baig Hashmi "
    "Ivanov Petrov Smirnov Volkov Sokolov Popov Lebedev Kozlov Novikov Morozov Orlov Zhou Wu Xu "
    "Sun Ma Zhu Hu Guo Lin He Gao Luo Kim Lee Park Jung Kang Cho Yoon Jang Rezaei Mohammadi "
    "Hosseini Karimi Moradi Ahmadi Jafari Rahimi Garcia Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Perez Sanchez Ramirez Torres Flores Rivera Gomez Diaz Cruz Morales Ortiz Gutierrez"
)
_ORG_HEAD = _words(
    "Al Noor|Al Amin|Eastern Star|Golden Crescent|Blue Ocean|Silk Road|Pacific Rim|Northern "
    "Light|Green Valley|Royal Falcon|Crystal|Orient|Evergreen|Sunrise|Polar|Atlas|Phoenix|"
    "Zenith|Meridian|Horizon|Summit|Delta|Sigma|Apex|Vertex|Nova|Titan|Falcon|Emerald|Sapphire|"
    "Caspian|Baltic|Arabian|Indus|Yangtze|Volga|Karakoram|Hindu Kush|Zagros|Taurus|Ural|Altai",
    "|",
)
_ORG_MIDDLE = _words(
    "General Trading|Shipping|Petroleum|Engineering|Electronics|Industrial|Technical Services|"
    "Logistics|Import Export|Machinery|Chemicals|Aviation|Marine Services|Metals|Energy|"
    "Construction|Investment|Holding|Precision Tools|Defence Systems|Scientific Instruments",
    "|",
)
_ORG_FORM = _words(
    "LLC|Limited|Company Limited|Private Limited|FZE|FZCO|JSC|OOO|Co Ltd|GmbH|SA|Corporation", "|"
)
_COUNTRIES = ("PK", "IR", "RU", "CN", "AE", "KP", "SY", "TR", "HK", "BY")
_CITIES = ("Karachi", "Lahore", "Tehran", "Moscow", "Dubai", "Shenzhen", "Istanbul", "Minsk")
_PROGRAMS = ("NPWMD", "IRAN", "RUSSIA-EO14024", "SDGT", "DPRK3", "SYRIA", "CYBER2")


def generated_watchlist(size: int, seed: int = 11) -> Watchlist:
    """``size`` distinct organisations (two thirds) and people with their aliases."""
    rng = random.Random(seed)
    entities: list[WatchlistEntity] = []
    names: set[str] = set()
    while len(entities) < size:
        maker = _person if rng.random() < 1 / 3 else _organisation
        entity = maker(rng, f"gen-{len(entities)}")
        if entity.name not in names:
            names.add(entity.name)
            entities.append(entity)
    return Watchlist(description="generated for bench.watchlist_scale", entities=entities)


def _organisation(rng: random.Random, entity_id: str) -> WatchlistEntity:
    head, middle, form = rng.choice(_ORG_HEAD), rng.choice(_ORG_MIDDLE), rng.choice(_ORG_FORM)
    name = f"{head} {middle} {form}"
    initials = "".join(word[0] for word in f"{head} {middle}".split()).upper()
    other_form = rng.choice(_ORG_FORM)
    city = rng.choice(_CITIES)
    return WatchlistEntity(
        id=entity_id,
        name=name,
        kind="organisation",
        country=rng.choice(_COUNTRIES),
        programs=[rng.choice(_PROGRAMS)],
        strong_aliases=[name.upper(), f"{head} {middle} {other_form}"],
        weak_aliases=[initials, f"{head} {middle.split()[0]}"] if len(initials) > 2 else [],
        addresses=[f"Office {rng.randrange(1, 900)}, {rng.choice(_ORG_HEAD)} Tower, {city}"],
        source="generated",
    )


def _person(rng: random.Random, entity_id: str) -> WatchlistEntity:
    first, middle, last = rng.choice(_FIRST), rng.choice(_FIRST), rng.choice(_LAST)
    name = f"{first} {middle} {last}"
    return WatchlistEntity(
        id=entity_id,
        name=name,
        kind="person",
        country=rng.choice(_COUNTRIES),
        programs=[rng.choice(_PROGRAMS)],
        strong_aliases=[f"{last.upper()}, {first} {middle}", f"{first} {last}"],
        weak_aliases=[f"{first[0]}. {middle[0]}. {last}"],
        source="generated",
    )


@dataclass(frozen=True, slots=True)
class ScaleResult:
    small_ms: float  # median per article, shipped watchlist
    large_ms: float  # median per article, generated watchlist
    large_entities: int
    compile_seconds: float  # building the large matcher once
    articles: int

    @property
    def ratio(self) -> float:
        return self.large_ms / self.small_ms


def _per_article_ms(matcher: Matcher, documents: Sequence[tuple[str, str]], repeats: int) -> float:
    times = []
    for title, text in documents:
        best = min(_timed(matcher, title, text) for _ in range(repeats))
        times.append(best)
    return statistics.median(times) * 1000


def _timed(matcher: Matcher, title: str, text: str) -> float:
    started = time.perf_counter()
    matcher.match(title, text)
    return time.perf_counter() - started


def measure(size: int = 20_000, repeats: int = 3) -> ScaleResult:
    documents = [
        (body["articleBody"].split("\n")[0][:120], body["articleBody"])
        for body in ground_truth().values()
    ]
    small = Matcher(load_watchlist(SHIPPED_WATCHLIST))
    started = time.perf_counter()
    large = Matcher(generated_watchlist(size))
    compile_seconds = time.perf_counter() - started
    return ScaleResult(
        small_ms=_per_article_ms(small, documents, repeats),
        large_ms=_per_article_ms(large, documents, repeats),
        large_entities=size,
        compile_seconds=compile_seconds,
        articles=len(documents),
    )
