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
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

from pipeline.match import arabic
from pipeline.match.aliases import NameClass, RuleSet, Strength
from pipeline.match.normalize import Document, Token

# Edits allowed in one word of a name, by the length of what is compared: the skeleton (names
# of several words) or the letters (a name of one word, whose skeleton is too short to trust:
# فلیٹس "flats" has the skeleton of ایفیلیئٹس).
SKELETON_BOUNDS = (4, 8)  # below 4 letters: exact; below 8: one edit; else two
LETTER_BOUNDS = (5, 9)
# On top of the skeleton's edits, a word may differ by this many weak letters (ایگزیکیٹیو /
# ایگزیکٹو), no more: فلیٹس has the skeleton of ایفیلیئٹس but four letters fewer.
WEAK_LETTER_SLACK = 2
# ڑ typed for ٹ, often for ٹر ("انڑپرائز"): in a skeleton ڑ counts as ٹر.
_SKELETON_LETTERS = {"\u0691": "\u0679\u0631"}
EXTRA_WORDS = 3  # a name may be split into this many more words than it has
MIN_GLUED_PIECE = 2  # letters left on each side when a glued word is cut
MIN_ORDER_NUMBER, MAX_ORDER_NUMBER = 4, 6  # digits of an executive-order number
SKELETON_CACHE = 50_000  # words


@dataclass(frozen=True, slots=True)
class ArabicForm:
    """One searchable Arabic-script form of one alias."""

    entity: int
    alias: str  # as written in the watchlist
    strength: Strength
    name_class: NameClass
    needs_context: bool
    joined: str  # the words' skeletons (letters, for an acronym) joined without spaces
    word_ends: tuple[int, ...]  # where each word of the name ends in ``joined``
    bounds: tuple[int, ...]  # edits allowed in each word
    exact: bool  # an acronym: letter for letter
    letters: bool  # one significant word: compared on its letters, not its skeleton
    written: str  # the words' letters joined (checked as well when ``joined`` is a skeleton)
    written_ends: tuple[int, ...]
    initial: str  # the first letter of the first word's skeleton ("" for ای, او)
    bigrams: frozenset[str]  # of ``joined``: a document lacking most of them cannot match
    needed: int  # bigrams a match keeps at least: each edit destroys at most two


@dataclass(frozen=True, slots=True)
class ArabicMention:
    form: ArabicForm
    first: int  # token indexes, inclusive
    last: int
    start: int  # original offsets
    end: int
    distance: int


@dataclass(frozen=True, slots=True)
class _OrderPhrase:
    form: ArabicForm
    phrase: tuple[str, ...]
    number: str
    entity: int


class ArabicNames:
    """The Arabic-script aliases of a watchlist, compiled once per ``Matcher``."""

    def __init__(self, rules: RuleSet) -> None:
        self._rules = rules
        table = rules.rules.arabic_script
        self._weak = frozenset(table.weak_letters)
        self._plurals = tuple(table.plural_endings)
        self._skeletons: dict[str, str] = {}
        self._words = rules.normalizer.words
        self._common = frozenset(self.skeleton(w) for w in self._word_list(table.common_words))
        self._small = frozenset(self._word_list(table.small_words))
        self._letters = frozenset(self._word_list(table.letter_names))
        self._sounds = {
            letter: frozenset(self.skeleton(letter)[:1] or self._weak)
            | frozenset(table.letter_sounds.get(letter, []))
            for letter in self._letters
        }
        self._glued = tuple(sorted(self._word_list(table.glued_endings), key=len, reverse=True))
        self._number_words = frozenset(self._word_list(table.number_words))
        self._and_words = frozenset(self._word_list(table.and_words))
        self._legal_groups = [[tuple(self._words(f)) for f in g] for g in table.legal_form_groups]
        self._legal_words = frozenset(w for g in self._legal_groups for f in g for w in f)
        self._forms: list[ArabicForm] = []
        self._orders: list[_OrderPhrase] = []

    def _word_list(self, texts: list[str]) -> list[str]:
        return [w for text in texts for w in self._words(text)]

    @property
    def empty(self) -> bool:
        return not self._forms and not self._orders

    # ---- compiling -------------------------------------------------------------------------

    def add(self, entity: int, alias: str, strength: Strength, legal_reference: bool) -> bool:
        """Compile an alias written in Arabic script; False (nothing done) for any other."""
        if not arabic.has_arabic(alias):
            return False
        words = [w for w in self._words(alias) if arabic.is_arabic_word(w) or w.isdigit()]
        if legal_reference:
            self._add_order(entity, alias, words)
            return True
        for variant in self._legal_variants(words):
            form = self._form(entity, alias, strength, variant)
            if form is not None:
                self._forms.append(form)
        return True

    def _add_order(self, entity: int, alias: str, words: list[str]) -> None:
        numbers = [w for w in words if w.isdigit()]
        phrase = [w for w in words if not w.isdigit()]
        form = self._form(entity, alias, "strong", phrase)
        known = {(o.phrase, o.number, o.entity) for o in self._orders}
        if (
            form is not None
            and len(numbers) == 1
            and (tuple(phrase), numbers[0], entity) not in known
        ):
            self._orders.append(_OrderPhrase(form, tuple(phrase), numbers[0], entity))

    def _legal_variants(self, words: list[str]) -> list[list[str]]:
        for group in self._legal_groups:
            for suffix in sorted(group, key=len, reverse=True):
                if len(words) > len(suffix) and tuple(words[-len(suffix) :]) == suffix:
                    base = words[: -len(suffix)]
                    return [base + list(other) for other in group]
        return [words]

    def _form(
        self, entity: int, alias: str, strength: Strength, words: list[str]
    ) -> ArabicForm | None:
        if not words:
            return None
        significant = [w for w in words if w not in self._small and w not in self._legal_words]
        acronym = all(w in self._letters for w in words)
        if acronym:
            name_class: NameClass = "acronym"
        elif significant and all(self.skeleton(w) in self._common for w in significant):
            name_class = "common-words"
        else:
            name_class = "distinctive"
        needs_context = strength == "weak" or name_class != "distinctive" or len(significant) < 2
        letters = acronym or len(words) == 1
        pieces = words if letters else [self.skeleton(w) for w in words]
        bounds = [0 if acronym else _edit_bound(p, letters) for p in pieces]
        ends, written_ends = _ends(pieces), _ends(words)
        return ArabicForm(
            entity=entity,
            alias=alias,
            strength="weak" if acronym else strength,
            name_class=name_class,
            needs_context=needs_context,
            joined="".join(pieces),
            word_ends=tuple(ends),
            bounds=tuple(bounds),
            exact=acronym,
            letters=letters,
            written="".join(words),
            written_ends=written_ends,
            initial=self._initial(words[0]),
            bigrams=_bigrams("".join(pieces)),
            needed=len(_bigrams("".join(pieces))) - 2 * sum(bounds),
        )

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

    # ---- matching --------------------------------------------------------------------------

    def find(self, document: Document) -> list[ArabicMention]:
        """Every place where an Arabic-script name of the watchlist is written."""
        found: list[ArabicMention] = []
        tokens = document.tokens
        by_initial = self._plausible_forms(tokens)
        if not by_initial:
            return found
        for index, token in enumerate(tokens):
            if not _is_arabic_token(token):
                continue
            for cut, piece in self._starts(token.text):
                for form in by_initial.get(self._initial(piece), []):
                    mention = self._best_span(form, tokens, index, cut, piece, document)
                    if mention is not None:
                        found.append(mention)
        return self._without_acronyms_defined_otherwise(_closest(found), tokens)

    def _plausible_forms(self, tokens: list[Token]) -> dict[str, list[ArabicForm]]:
        """The forms whose bigrams the document holds enough of, by initial: a necessary
        condition (a span of the document is a substring of its words run together), so a
        long list of Arabic-script names costs a set lookup per bigram, not a comparison per
        word."""
        words = [t.text for t in tokens if _is_arabic_token(t)]
        skeletons = _bigrams("".join(self.skeleton(w) for w in words))
        letters = _bigrams("".join(words))
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
        if start < 0 or not all(_is_arabic_token(t) for t in tokens[start : mention.first]):
            return False
        words = [t.text for t in tokens[start : mention.first]]
        return all(
            word[:1] in self._sounds.get(letter, frozenset())
            for word, letter in zip(words, letters, strict=True)
        )

    def orders(self, document: Document) -> list[ArabicMention]:
        """Urdu references to an executive order by its number ("ایگزیکٹو آرڈر 13382")."""
        found: list[ArabicMention] = []
        tokens = document.tokens
        for order in self._orders:
            initial = self._initial(order.phrase[0])
            for index, token in enumerate(tokens):
                if not _is_arabic_token(token) or self._initial(token.text) != initial:
                    continue
                phrase = self._best_span(order.form, tokens, index, 0, token.text, document)
                if phrase is None:
                    continue
                for number_index in self._numbers_after(tokens, phrase.last + 1):
                    if tokens[number_index].text == order.number:
                        found.append(
                            ArabicMention(
                                order.form,
                                phrase.first,
                                number_index,
                                phrase.start,
                                tokens[number_index].end,
                                phrase.distance,
                            )
                        )
        return found

    def _numbers_after(self, tokens: list[Token], index: int) -> Iterator[int]:
        while index < len(tokens) and (
            tokens[index].text in self._number_words or tokens[index].text in self._letters
        ):
            index += 1  # "نمبر", the bracketed "(ای او)"
        while index < len(tokens) and _order_number(tokens[index].text):
            yield index
            index += 1
            if index < len(tokens) and (
                tokens[index].text == "," or tokens[index].text in self._and_words
            ):
                index += 1

    def _initial(self, piece: str) -> str:
        return self.skeleton(piece)[:1]  # "" for a word of weak letters only ("ای")

    def _starts(self, word: str) -> Iterator[tuple[int, str]]:
        """The word itself, then what follows each non-joining letter inside it."""
        yield 0, word
        for cut in range(MIN_GLUED_PIECE, len(word) - MIN_GLUED_PIECE + 1):
            if word[cut - 1] in arabic.NON_JOINING:
                yield cut, word[cut:]

    def _best_span(
        self,
        form: ArabicForm,
        tokens: list[Token],
        index: int,
        cut: int,
        piece: str,
        document: Document,
    ) -> ArabicMention | None:
        best: ArabicMention | None = None
        # Longer than the name with all its edits and a glued postposition: stop growing.
        limit = len(form.joined) + sum(form.bounds) + max(map(len, self._glued), default=0) + 1
        pieces = [piece]
        compared = len(self._compared(form, piece))
        last = index
        while True:
            for trimmed, trim in self._endings(pieces[-1], last == index):
                distance = self._distance(form, [*pieces[:-1], trimmed])
                if distance is not None and (best is None or distance < best.distance):
                    start, end = _offsets(document, tokens, index, cut, last, trim)
                    best = ArabicMention(form, index, last, start, end, distance)
            last += 1
            if last >= len(tokens) or last - index >= len(form.word_ends) + EXTRA_WORDS:
                break
            if not _is_arabic_token(tokens[last]):
                break
            pieces.append(tokens[last].text)
            compared += len(self._compared(form, tokens[last].text))
            if compared > limit:
                break
        return best

    def _endings(self, word: str, only_word: bool) -> Iterator[tuple[str, int]]:
        """The last word of a span as it is and without a glued postposition."""
        yield word, 0
        for ending in self._glued:
            rest = len(word) - len(ending)
            if word.endswith(ending) and rest >= MIN_GLUED_PIECE + (not only_word):
                yield word[:rest], len(ending)

    def _compared(self, form: ArabicForm, word: str) -> str:
        return word if form.letters else self.skeleton(word)

    def _distance(self, form: ArabicForm, words: list[str]) -> int | None:
        joined = "".join(self._compared(form, w) for w in words)
        if form.exact:
            return 0 if joined == form.joined else None
        total = sum(form.bounds)
        distance = Levenshtein.distance(form.joined, joined, score_cutoff=total)
        if distance > total:
            return None
        if distance and not _within(form.joined, joined, form.word_ends, form.bounds):
            return None
        if not form.letters:
            slack = tuple(bound + WEAK_LETTER_SLACK for bound in form.bounds)
            if not _within(form.written, "".join(words), form.written_ends, slack):
                return None
        return int(distance)


def _bigrams(text: str) -> frozenset[str]:
    return frozenset(text[i : i + 2] for i in range(len(text) - 1))


def _ends(pieces: list[str]) -> tuple[int, ...]:
    ends: list[int] = []
    for piece in pieces:
        ends.append((ends[-1] if ends else 0) + len(piece))
    return tuple(ends)


def _within(name: str, written: str, word_ends: tuple[int, ...], bounds: tuple[int, ...]) -> bool:
    """Whether every word of ``name`` is within its bound of edits from ``written``."""
    edits = [0] * len(word_ends)
    for operation in Levenshtein.editops(name, written):
        edits[_word_at(word_ends, operation.src_pos)] += 1
    return all(count <= bound for count, bound in zip(edits, bounds, strict=True))


def _closest(mentions: list[ArabicMention]) -> list[ArabicMention]:
    """Of the overlapping mentions of one alias, the closest spelling (then the longest): "نے
    نیشنل ..." is one edit from the name, "نیشنل ..." none. (Between aliases the longest wins,
    as in English.)"""
    kept: list[ArabicMention] = []
    ranked = sorted(mentions, key=lambda m: (m.distance, m.first - m.last, m.first))
    for mention in ranked:
        if not any(
            k.form.alias == mention.form.alias
            and k.form.entity == mention.form.entity
            and k.first <= mention.last
            and mention.first <= k.last
            and (k.first, k.last) != (mention.first, mention.last)
            and k.distance < mention.distance
            for k in kept
        ):
            kept.append(mention)
    return kept


def _edit_bound(compared: str, letters: bool) -> int:
    one, two = LETTER_BOUNDS if letters else SKELETON_BOUNDS
    if len(compared) < one:
        return 0
    return 1 if len(compared) < two else 2


def _word_at(word_ends: tuple[int, ...], position: int) -> int:
    for word, end in enumerate(word_ends):
        if position < end:
            return word
    return len(word_ends) - 1


def _is_arabic_token(token: Token) -> bool:
    return token.is_word and arabic.is_arabic_word(token.text)


def _order_number(text: str) -> bool:
    return text.isdigit() and MIN_ORDER_NUMBER <= len(text) <= MAX_ORDER_NUMBER


def _offsets(
    document: Document, tokens: list[Token], first: int, cut: int, last: int, trim: int
) -> tuple[int, int]:
    """Original offsets of a span from inside its first word to before a glued ending."""
    head, tail = tokens[first], tokens[last]
    start = head.start
    if cut:
        start += arabic.original_cut(document.text[head.start : head.end], cut)
    end = tail.end
    if trim:
        written = document.text[tail.start : tail.end]
        end = tail.start + arabic.original_cut(written, len(tail.text) - trim)
    return start, end
