"""Urdu references to an executive order by its number ("ایگزیکٹو آرڈر 13382", in any digit
system: digits are ASCII by then): the phrase, matched as a name, then the number, with "نمبر"
or a bracketed "(ای او)" between them and "،", "اور", "و" between several numbers. A bare
number never matches, nor the phrase without a number (see arabic_names.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from pipeline.match.arabic_forms import ArabicForm, ArabicMention, compile_form
from pipeline.match.arabic_spans import SpanScanner, is_arabic_token
from pipeline.match.arabic_words import ArabicWords
from pipeline.match.normalize import Document, Token

MIN_ORDER_NUMBER, MAX_ORDER_NUMBER = 4, 6  # digits of an executive-order number


@dataclass(frozen=True, slots=True)
class _OrderPhrase:
    form: ArabicForm
    phrase: tuple[str, ...]
    number: str
    entity: int


class OrderReferences:
    """The Arabic-script aliases of the legal-reference entities, by phrase and number."""

    def __init__(self, vocabulary: ArabicWords, spans: SpanScanner) -> None:
        self._vocabulary = vocabulary
        self._spans = spans
        self._orders: list[_OrderPhrase] = []

    @property
    def empty(self) -> bool:
        return not self._orders

    def add(self, entity: int, alias: str, words: list[str]) -> None:
        """Compile an alias of one phrase and one number; any other is left out."""
        numbers = [w for w in words if w.isdigit()]
        phrase = [w for w in words if not w.isdigit()]
        form = compile_form(self._vocabulary, entity, alias, "strong", phrase)
        known = {(o.phrase, o.number, o.entity) for o in self._orders}
        if (
            form is not None
            and len(numbers) == 1
            and (tuple(phrase), numbers[0], entity) not in known
        ):
            self._orders.append(_OrderPhrase(form, tuple(phrase), numbers[0], entity))

    def find(self, document: Document) -> list[ArabicMention]:
        """Every reference to an order of the watchlist, from its phrase to its number."""
        found: list[ArabicMention] = []
        tokens = document.tokens
        initial_of = self._vocabulary.initial
        for order in self._orders:
            initial = initial_of(order.phrase[0])
            for index, token in enumerate(tokens):
                if not is_arabic_token(token) or initial_of(token.text) != initial:
                    continue
                phrase = self._spans.best_span(order.form, tokens, index, 0, token.text, document)
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
        number_words, letters = self._vocabulary.number_words, self._vocabulary.letters
        while index < len(tokens) and (
            tokens[index].text in number_words or tokens[index].text in letters
        ):
            index += 1  # "نمبر", the bracketed "(ای او)"
        while index < len(tokens) and _order_number(tokens[index].text):
            yield index
            index += 1
            if index < len(tokens) and (
                tokens[index].text == "," or tokens[index].text in self._vocabulary.and_words
            ):
                index += 1


def _order_number(text: str) -> bool:
    return text.isdigit() and MIN_ORDER_NUMBER <= len(text) <= MAX_ORDER_NUMBER
