"""Kinds of figure: the kind a number question asks for, and the kinds a sentence states.

An answer to "多少钱" must state an amount, to "几天" a duration. The patterns are data
(``data/language.toml`` [figures]); ``{numeral}`` in a stated-kind pattern is the shared numeral.
"""

from __future__ import annotations

import re

from assistant.core.lexicon import pattern, table
from assistant.core.text import to_simplified

_FIGURES = table("language")["figures"]
# Number questions name the kind of figure they expect; an answer must state one of that kind (first match wins).
_UNIT_QUESTIONS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (unit, pattern("language", f"figures.asked.{unit}")) for unit in _FIGURES["asked"]
)
_NUMBER_UNITS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (unit, re.compile(str(regex).replace("{numeral}", _FIGURES["numeral"])))
    for unit, regex in _FIGURES["stated"].items()
)


def expected_unit(question: str) -> str | None:
    """The kind of figure a question asks for (money, percent, duration, year, count), or None."""
    lower = question.lower()
    for unit, asked in _UNIT_QUESTIONS:
        if asked.search(lower):
            return unit
    return None


def number_units(sentence: str) -> set[str]:
    """Kinds of figures a sentence states: money, percent, duration, year, count."""
    sentence = to_simplified(sentence)
    return {unit for unit, stated in _NUMBER_UNITS if stated.search(sentence)}
