"""The ``arabic_script`` table of aliases.yaml as sets of normalised words, and the skeleton of
an Urdu word: the word without its weak letters and one plural ending (see arabic_names.py)."""

from __future__ import annotations

from collections.abc import Callable

from pipeline.match.aliases import RuleSet

MIN_GLUED_PIECE = 2  # letters left on each side when a glued word is cut
SKELETON_CACHE = 50_000  # words
# ڑ typed for ٹ, often for ٹر ("انڑپرائز"): in a skeleton ڑ counts as ٹر.
_SKELETON_LETTERS = {"\u0691": "\u0679\u0631"}


class ArabicWords:
    """The word lists of the Arabic-script table, normalised once per ``Matcher``."""

    def __init__(self, rules: RuleSet) -> None:
        table = rules.rules.arabic_script
        self.words: Callable[[str], list[str]] = rules.normalizer.words
        self._weak = frozenset(table.weak_letters)
        self._plurals = tuple(table.plural_endings)
        self._skeletons: dict[str, str] = {}
        self.common = frozenset(self.skeleton(w) for w in self._word_list(table.common_words))
        self.small = frozenset(self._word_list(table.small_words))
        self.letters = frozenset(self._word_list(table.letter_names))
        # The first letters a spelt-out word of each letter name may start with.
        self.sounds = {
            letter: frozenset(self.skeleton(letter)[:1] or self._weak)
            | frozenset(table.letter_sounds.get(letter, []))
            for letter in self.letters
        }
        self.glued = tuple(sorted(self._word_list(table.glued_endings), key=len, reverse=True))
        self.number_words = frozenset(self._word_list(table.number_words))
        self.and_words = frozenset(self._word_list(table.and_words))
        self.legal_groups = [[tuple(self.words(f)) for f in g] for g in table.legal_form_groups]
        self.legal_words = frozenset(w for g in self.legal_groups for f in g for w in f)

    def _word_list(self, texts: list[str]) -> list[str]:
        return [w for text in texts for w in self.words(text)]

    def skeleton(self, word: str) -> str:
        """The word without weak letters and without one final plural ending."""
        known = self._skeletons.get(word)
        if known is None:
            if len(self._skeletons) >= SKELETON_CACHE:
                self._skeletons.clear()  # a bound on memory; words repeat within a text
            known = self._skeletons[word] = self._skeleton(word)
        return known

    def _skeleton(self, word: str) -> str:
        for ending in self._plurals:
            if word.endswith(ending) and len(word) - len(ending) >= MIN_GLUED_PIECE:
                word = word[: -len(ending)]
                break
        return "".join(_SKELETON_LETTERS.get(c, c) for c in word if c not in self._weak)

    def initial(self, piece: str) -> str:
        return self.skeleton(piece)[:1]  # "" for a word of weak letters only ("ای")

    def legal_variants(self, words: list[str]) -> list[list[str]]:
        """The name with each legal form of its group ("لمیٹڈ" / "پرائیویٹ لمیٹڈ")."""
        for group in self.legal_groups:
            for suffix in sorted(group, key=len, reverse=True):
                if len(words) > len(suffix) and tuple(words[-len(suffix) :]) == suffix:
                    base = words[: -len(suffix)]
                    return [base + list(other) for other in group]
        return [words]
