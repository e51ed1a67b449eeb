"""Arabic-script (Urdu) names of the watchlist, found in a normalised document.

Urdu spellings of one name vary (see /work/shared/URDU.md): vowel letters present, absent or
swapped (ڈویلپمنٹ / ڈیولپمنٹ, کمپلیکس / کمپلکس), words split or joined (ایفیلی ایٹس,
اختراینڈسنز, a ZWNJ dropped by the extractor), ڑ typed for ٹ, a singular for a plural (سن / سنز).
So a name is compared with the words of the document:

1. **Without spaces.** The name's words and a run of document words are each joined into one
   string: a name matches a run of one to ``len(name) + 3`` words however they are split.
2. **On a skeleton**: every word without the weak letters (``arabic_script.weak_letters`` of
   aliases.yaml: ا آ أ ؤ ئ ء و ی ے) and without a final plural ending (ز).
3. **With a bounded edit distance** (rapidfuzz Levenshtein over the skeletons), attributed to the
   word of the name where each edit falls: a word of fewer than 5 letters must match exactly,
   one of 5 to 8 letters may differ by one edit, a longer one by two. "نیشنل ڈویلپمنٹ کونسل" is
   not "نیشنل ڈویلپمنٹ کمپلیکس": کونسل is three edits from کمپلیکس; "ریور سائیڈ" is not
   "راک سائیڈ": راک may not differ at all.
4. **Acronyms** (names of letter names: "این ڈی سی") are compared letter for letter.
5. **Glued words.** A name may start inside a word right after a letter that never joins the
   next one ("ادارےاین ڈی سی"), and its last word may carry a postposition typed without a space
   ("اختر اینڈ سنزنے"); the mention covers the name only.

Legal references: an Urdu alias "ایگزیکٹو آرڈر 13382" of a legal-reference entity makes the
phrase "ایگزیکٹو آرڈر" (matched as a name) followed by the number, with "نمبر" or a bracketed
"(ای او)" between them and "،", "اور", "و" between several numbers. A bare number never matches,
nor the phrase without a number. Digits are ASCII by then in every digit system, and number
tokens are split from the letters they are glued to (``normalize.py``).

The parts: ``arabic_words.py`` (the table's word lists, the skeleton), ``arabic_forms.py`` (an
alias compiled), ``arabic_distance.py`` (the bounded edit distance), ``arabic_spans.py`` (a run
of document words compared with a form), ``arabic_orders.py`` (the legal references).
"""

from __future__ import annotations

from collections import defaultdict

from pipeline.match import arabic
from pipeline.match.aliases import RuleSet, Strength
from pipeline.match.arabic_distance import WEAK_LETTER_SLACK
from pipeline.match.arabic_forms import (
    LETTER_BOUNDS,
    SKELETON_BOUNDS,
    ArabicForm,
    ArabicMention,
    bigrams,
    compile_form,
)
from pipeline.match.arabic_orders import MAX_ORDER_NUMBER, MIN_ORDER_NUMBER, OrderReferences
from pipeline.match.arabic_spans import EXTRA_WORDS, SpanScanner, closest, is_arabic_token, starts
from pipeline.match.arabic_words import MIN_GLUED_PIECE, SKELETON_CACHE, ArabicWords
from pipeline.match.normalize import Document, Token

__all__ = [
    "EXTRA_WORDS",
    "LETTER_BOUNDS",
    "MAX_ORDER_NUMBER",
    "MIN_GLUED_PIECE",
    "MIN_ORDER_NUMBER",
    "SKELETON_BOUNDS",
    "SKELETON_CACHE",
    "WEAK_LETTER_SLACK",
    "ArabicForm",
    "ArabicMention",
    "ArabicNames",
]


class ArabicNames:
    """The Arabic-script aliases of a watchlist, compiled once per ``Matcher``."""

    def __init__(self, rules: RuleSet) -> None:
        self._vocabulary = ArabicWords(rules)
        self._spans = SpanScanner(self._vocabulary)
        self._forms: list[ArabicForm] = []
        self._orders = OrderReferences(self._vocabulary, self._spans)

    @property
    def empty(self) -> bool:
        return not self._forms and self._orders.empty

    def add(self, entity: int, alias: str, strength: Strength, legal_reference: bool) -> bool:
        """Compile an alias written in Arabic script; False (nothing done) for any other."""
        if not arabic.has_arabic(alias):
            return False
        vocabulary = self._vocabulary
        words = [w for w in vocabulary.words(alias) if arabic.is_arabic_word(w) or w.isdigit()]
        if legal_reference:
            self._orders.add(entity, alias, words)
            return True
        for variant in vocabulary.legal_variants(words):
            form = compile_form(vocabulary, entity, alias, strength, variant)
            if form is not None:
                self._forms.append(form)
        return True

    def skeleton(self, word: str) -> str:
        """The word without weak letters and without one final plural ending."""
        return self._vocabulary.skeleton(word)

    def find(self, document: Document) -> list[ArabicMention]:
        """Every place where an Arabic-script name of the watchlist is written."""
        found: list[ArabicMention] = []
        tokens = document.tokens
        by_initial = self._plausible_forms(tokens)
        if not by_initial:
            return found
        for index, token in enumerate(tokens):
            if not is_arabic_token(token):
                continue
            for cut, piece in starts(token.text):
                for form in by_initial.get(self._vocabulary.initial(piece), []):
                    mention = self._spans.best_span(form, tokens, index, cut, piece, document)
                    if mention is not None:
                        found.append(mention)
        return self._without_acronyms_defined_otherwise(closest(found), tokens)

    def orders(self, document: Document) -> list[ArabicMention]:
        """Urdu references to an executive order by its number ("ایگزیکٹو آرڈر 13382")."""
        return self._orders.find(document)

    def _plausible_forms(self, tokens: list[Token]) -> dict[str, list[ArabicForm]]:
        """The forms whose bigrams the document holds enough of, by initial: a necessary
        condition (a span of the document is a substring of its words run together), so a
        long list of Arabic-script names costs a set lookup per bigram, not a comparison per
        word."""
        words = [t.text for t in tokens if is_arabic_token(t)]
        skeletons = bigrams("".join(self._vocabulary.skeleton(w) for w in words))
        letters = bigrams("".join(words))
        plausible: defaultdict[str, list[ArabicForm]] = defaultdict(list)
        for form in self._forms:
            present = letters if form.letters else skeletons
            if sum(bigram in present for bigram in form.bigrams) >= form.needed:
                plausible[form.initial].append(form)
        return plausible

    def _without_acronyms_defined_otherwise(
        self, mentions: list[ArabicMention], tokens: list[Token]
    ) -> list[ArabicMention]:
        """Drop an acronym for the whole document when it is spelt out as another name there."""
        names = {(m.form.entity, m.last) for m in mentions if m.form.name_class != "acronym"}
        defined_otherwise = {
            m.form
            for m in mentions
            if m.form.name_class == "acronym"
            and (m.form.entity, m.first - 1) not in names
            and self._spelt_out_before(m, tokens)
        }
        return [m for m in mentions if m.form not in defined_otherwise]

    def _spelt_out_before(self, mention: ArabicMention, tokens: list[Token]) -> bool:
        letters = [tokens[i].text for i in range(mention.first, mention.last + 1)]
        start = mention.first - len(letters)
        if start < 0 or not all(is_arabic_token(t) for t in tokens[start : mention.first]):
            return False
        words = [t.text for t in tokens[start : mention.first]]
        sounds = self._vocabulary.sounds
        return all(
            word[:1] in sounds.get(letter, frozenset())
            for word, letter in zip(words, letters, strict=True)
        )
