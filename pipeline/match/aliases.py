"""Watchlist names -> the normalised forms the matcher searches for, by the rules of aliases.yaml.

Each alias is classified once, when a ``Matcher`` is built:

- **acronym**: a single word of at most 3 letters, or of 4-5 letters without a vowel ("NDC",
  "NSDC"). Always treated as a weak alias, whatever the list says; it must appear in capitals
  in the article.
- **common-words**: every significant word (not a small word like "and", not a legal form, not
  a prefix like "M/s") is an everyday English word from ``common_words.yaml`` or a closed
  compound of two such words ("Rockside" = rock + side). With at most two significant words
  ("Affiliates International", "Rockside Enterprise") the name must appear in title case (or
  capitals) AND be corroborated by context. With three or more ("National Development
  Complex") it must appear in title case or capitals, and flags on its own if strong.
- **distinctive**: everything else ("Akhtar and Sons Private Limited"). A strong distinctive
  alias of two or more words flags on its own, in any case; a weak one, or one of a single
  word ("Salina", a vessel; "Taliban"), needs title case and confirmation.

Person names need at least two words (single words never match), must appear in title case,
and "LAST, First Middle" also matches as "First Middle Last" and "First Last".

Variants generated for organisations: the prefixes of ``name_prefixes`` are dropped ("MS
AFFILIATES INTERNATIONAL" = "Affiliates International"); a trailing legal form may be replaced
by any form of its group ("Pvt Ltd" = "Ltd" = "Pvt"); the last word before the legal form may
carry a plural ending ("Rockside Enterprises"). Spelling equivalences ("Private" = "Pvt",
"Limited" = "Ltd", "Centre" = "Center") are applied by the normaliser to names and text alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.core.errors import ConfigError
from pipeline.match.normalize import COMMA, Normalizer, fold_plain

RULES_PATH = Path(__file__).with_name("aliases.yaml")
COMMON_WORDS_PATH = Path(__file__).with_name("common_words.yaml")

MAX_ACRONYM_LETTERS = 5  # longer single words are never acronyms
MAX_SHORT_ACRONYM = 3  # up to this length any single word is an acronym; longer need no vowel
MAX_COMMON_WORDS_NEEDING_CONTEXT = 2
MIN_COMPOUND_PART = 3  # "rockside" = "rock" + "side"; parts shorter than this do not count
MIN_PLURAL_BASE = 3

NameClass = Literal["distinctive", "common-words", "acronym"]
CaseRule = Literal["any", "title", "upper"]
Strength = Literal["strong", "weak"]
Kind = Literal["organisation", "person", "legal-reference"]


class PluralRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    ends: list[str]
    add: str
    drop: int = Field(0, ge=0)


class ArabicScriptRules(BaseModel):
    """The ``arabic_script`` table of aliases.yaml (see pipeline/match/arabic_names.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weak_letters: str = ""
    plural_endings: list[str] = Field(default_factory=list)
    common_words: list[str] = Field(default_factory=list)
    small_words: list[str] = Field(default_factory=list)
    legal_form_groups: list[list[str]] = Field(default_factory=list)
    letter_names: list[str] = Field(default_factory=list)
    letter_sounds: dict[str, list[str]] = Field(default_factory=dict)
    glued_endings: list[str] = Field(default_factory=list)
    number_words: list[str] = Field(default_factory=list)
    and_words: list[str] = Field(default_factory=list)


class AliasRules(BaseModel):
    """The table of aliases.yaml, validated."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token_equivalents: dict[str, str] = Field(default_factory=dict)
    legal_form_groups: list[list[str]] = Field(default_factory=list)
    name_prefixes: list[str] = Field(default_factory=list)
    plural_rules: list[PluralRule] = Field(default_factory=list)
    abbreviations: list[str] = Field(default_factory=list)
    small_words: list[str] = Field(default_factory=list)
    sanctions_vocabulary: list[str] = Field(default_factory=list)
    # The enforcement family (designations, listings, freezes, export controls, procurement
    # networks, front companies): generic context like the sanctions vocabulary.
    enforcement_vocabulary: list[str] = Field(default_factory=list)
    # Words that open a statement telling two same-named parties apart ("similarly named").
    disambiguation_cues: list[str] = Field(default_factory=list)
    program_vocabulary: dict[str, list[str]] = Field(default_factory=dict)
    countries: dict[str, list[str]] = Field(default_factory=dict)
    arabic_script: ArabicScriptRules = Field(default_factory=ArabicScriptRules)


@dataclass(frozen=True, slots=True)
class NameForm:
    """One searchable form of one alias."""

    key: str  # normalised words joined by single spaces
    alias: str  # the alias as written in the watchlist
    strength: Strength
    name_class: NameClass
    case_rule: CaseRule
    needs_context: bool  # True: only confirms (strong name of the entity, or context)


class RuleSet:
    """The loaded rules: a normaliser plus everything needed to turn names into forms."""

    def __init__(self, rules: AliasRules, common_words: frozenset[str]) -> None:
        self.rules = rules
        self.common_words = common_words
        legal_words = [
            word for group in rules.legal_form_groups for form in group for word in form.split()
        ]
        self.normalizer = Normalizer(
            token_equivalents=rules.token_equivalents,
            abbreviations=rules.abbreviations,
            legal_form_starts=legal_words,
        )
        self.small_words = frozenset(fold_plain(w) for w in rules.small_words)
        self.legal_words = frozenset(self._words(w)[0] for w in legal_words)
        self._legal_groups = [
            [tuple(self._words(form)) for form in group] for group in rules.legal_form_groups
        ]
        self._prefixes = sorted(
            (tuple(self._words(p)) for p in rules.name_prefixes), key=len, reverse=True
        )

    def key(self, text: str) -> str:
        return self.normalizer.key(text)

    def forms(self, alias: str, strength: Strength, kind: Kind) -> list[NameForm]:
        """Every searchable form of an alias; empty when the alias can never match safely."""
        if kind == "person":
            return self._person_forms(alias, strength)
        words = self._strip_prefix(self._words(alias))
        base, suffix_group = self._split_legal_form(words)
        if not self._has_letters(base):
            return []  # only numbers or initials: never safe to match on their own
        name_class = self.classify(base)
        if name_class == "acronym":
            return [NameForm(" ".join(base), alias, "weak", "acronym", "upper", True)]
        single_word = len(self.significant(base)) == 1
        needs_context = strength == "weak" or name_class == "common-words" or single_word
        # Strong distinctive names match in any case; names of everyday words, single words
        # and weak aliases only in title case (or capitals).
        plain = not needs_context and not self.is_all_common(base)
        case_rule: CaseRule = "any" if plain else "title"
        keys = self._organisation_keys(base, words[len(base) :], suffix_group)
        return [
            NameForm(key, alias, strength, name_class, case_rule, needs_context) for key in keys
        ]

    def classify(self, words: list[str]) -> NameClass:
        significant = self.significant(words)
        if len(words) == 1 and _looks_like_acronym(words[0]):
            return "acronym"
        if all(self.is_common(word) for word in significant) and (
            len(significant) <= MAX_COMMON_WORDS_NEEDING_CONTEXT
        ):
            return "common-words"
        return "distinctive"

    def significant(self, words: list[str]) -> list[str]:
        return [
            w
            for w in words
            if w != COMMA and w not in self.small_words and w not in self.legal_words
        ]

    def is_common(self, word: str) -> bool:
        """An everyday word, or a closed compound of two ("rockside", "sunrise")."""
        if word in self.common_words:
            return True
        return any(
            word[:cut] in self.common_words and word[cut:] in self.common_words
            for cut in range(MIN_COMPOUND_PART, len(word) - MIN_COMPOUND_PART + 1)
        )

    def is_all_common(self, words: list[str]) -> bool:
        significant = self.significant(words)
        return bool(significant) and all(self.is_common(w) for w in significant)

    def plural_forms(self, word: str) -> list[str]:
        """The plural endings aliases.yaml allows for the last word of an organisation name."""
        if not word.isalpha() or len(word) < MIN_PLURAL_BASE or word.endswith("s"):
            return []
        for rule in self.rules.plural_rules:
            if any(word.endswith(end) for end in rule.ends):
                stem = word[: len(word) - rule.drop] if rule.drop else word
                return [stem + rule.add]
        return []

    def _words(self, text: str) -> list[str]:
        return self.normalizer.words(text)

    def _strip_prefix(self, words: list[str]) -> list[str]:
        # "MS AFFILIATES INTERNATIONAL" -> "affiliates international", but "MS-13" stays.
        for prefix in self._prefixes:
            rest = words[len(prefix) :]
            if tuple(words[: len(prefix)]) == prefix and self._has_letters(rest):
                return rest
        return words

    def _has_letters(self, words: list[str]) -> bool:
        return any(len(w) > 1 and not w.isdigit() for w in self.significant(words))

    def _split_legal_form(self, words: list[str]) -> tuple[list[str], int | None]:
        """(name without its trailing legal form, index of the legal-form group or None)."""
        best: tuple[int, int] | None = None  # (suffix length, group index)
        for group_index, group in enumerate(self._legal_groups):
            for form in group:
                fits = len(words) > len(form) and tuple(words[-len(form) :]) == form
                if fits and (best is None or len(form) > best[0]):
                    best = (len(form), group_index)
        if best is None:
            return words, None
        return words[: -best[0]], best[1]

    def _organisation_keys(
        self, base: list[str], suffix: list[str], group: int | None
    ) -> list[str]:
        endings = [suffix] if group is None else [list(form) for form in self._legal_groups[group]]
        bases = [base] + [[*base[:-1], plural] for plural in self.plural_forms(base[-1])]
        keys = [" ".join(b + e) for b in bases for e in endings]
        return list(dict.fromkeys(keys))

    def _person_forms(self, alias: str, strength: Strength) -> list[NameForm]:
        keys: list[str] = []
        for variant in _person_variants(alias):
            words = [w for w in self._words(variant) if w != COMMA]
            if len(self.significant(words)) >= 2:
                keys.append(" ".join(words))
        keys = list(dict.fromkeys(keys))
        if not keys:
            return []
        common = self.is_all_common(self._words(alias.replace(",", " ")))
        small = len(self.significant(self._words(alias))) <= MAX_COMMON_WORDS_NEEDING_CONTEXT
        name_class: NameClass = "common-words" if common and small else "distinctive"
        needs_context = strength == "weak" or name_class == "common-words"
        return [NameForm(key, alias, strength, name_class, "title", needs_context) for key in keys]


def _looks_like_acronym(word: str) -> bool:
    """'ndc', 'bnc', 'nsdc' but not 'hamas' or 'iami': lists write everything in capitals."""
    if not word.isalpha() or len(word) > MAX_ACRONYM_LETTERS:
        return False
    return len(word) <= MAX_SHORT_ACRONYM or not any(v in word for v in "aeiou")


def _person_variants(alias: str) -> list[str]:
    """'LAST, First Middle' -> also 'First Middle LAST' and 'First LAST'; else also 'First Last'."""
    if "," in alias:
        last, _, given = alias.partition(",")
        given_words = given.split()
        variants = [f"{last} {given}", f"{given} {last}"]
        if len(given_words) > 1:
            variants.append(f"{given_words[0]} {last}")
        return variants
    words = alias.split()
    return [alias, f"{words[0]} {words[-1]}"] if len(words) > 2 else [alias]


def load_rule_set(
    rules_path: Path = RULES_PATH, common_words_path: Path = COMMON_WORDS_PATH
) -> RuleSet:
    """Read aliases.yaml and common_words.yaml; ConfigError naming the key on a bad file."""
    raw = _read_mapping(rules_path)
    try:
        rules = AliasRules.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        raise ConfigError(f"{rules_path}: {where}: {error['msg']}") from None
    words_text = _read_mapping(common_words_path).get("words")
    if not isinstance(words_text, str):
        raise ConfigError(
            f"{common_words_path}: words: expected one block of words separated by spaces"
        )
    return RuleSet(rules, frozenset(fold_plain(w) for w in words_text.split()))


def _read_mapping(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        raw = yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader (C or Python)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise ConfigError(f"{path}: YAML syntax error{where}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    return raw
