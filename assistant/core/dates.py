"""Dates in words: the date a question states ("2024年时…", "截至2023年底"), and the target years an
answer sentence states ("到2025年…"). The phrases are data (``data/dates.toml``), not code.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from assistant.core.lexicon import table
from assistant.core.text import search_form, to_simplified


@dataclass(frozen=True)
class QuestionDate:
    """A date a question states, and the words that state it (dropped from the search text)."""

    day: date
    phrase: str


_DATA = table("dates")
# Compiled at import, at module level: tests/test_patterns.py runs every one of them on hostile text.
QUESTION_DATES: tuple[tuple[re.Pattern[str], bool], ...] = tuple(
    (re.compile(p["pattern"]), p.get("at", "end") == "end") for p in _DATA.get("question", [])
)  # (pattern, the period's last day rather than its first)
RELATIVE_YEARS: dict[str, int] = dict(_DATA.get("relative", {}))
TARGET_YEARS: tuple[re.Pattern[str], ...] = tuple(re.compile(p["pattern"]) for p in _DATA.get("target", []))


def period_day(year: int, month: int | None = None, day: int | None = None, *, at_end: bool = True) -> date | None:
    """The day a year, month or full date stands for (its last day with ``at_end``); None if impossible."""
    if not 1900 <= year <= 2200:
        return None
    try:
        if month is None:
            return date(year, 12, 31) if at_end else date(year, 1, 1)
        if day is None:
            return date(year, month, calendar.monthrange(year, month)[1] if at_end else 1)
        return date(year, month, day)
    except ValueError:
        return None


def question_date(question: str, today: date) -> QuestionDate | None:
    """The date a question is about when it states one; the first phrase found wins."""
    text = search_form(question)
    for pattern, at_end in QUESTION_DATES:
        for m in pattern.finditer(text):
            groups = m.groupdict()
            if groups.get("back"):
                day = period_day(today.year - RELATIVE_YEARS.get(groups["back"], 0), at_end=at_end)
            else:
                month, dd = groups.get("month"), groups.get("day")
                day = period_day(
                    int(groups["year"]), int(month) if month else None, int(dd) if dd else None,
                    at_end=at_end,
                )  # fmt: skip
            if day is not None:
                return QuestionDate(day, m.group(0))
    return None


def target_years(text: str) -> list[int]:
    """Years an answer states targets for ("到2025年，新增…" -> [2025]), sorted, once each."""
    simplified = to_simplified(text)
    years = {int(m.group("year")) for pattern in TARGET_YEARS for m in pattern.finditer(simplified)}
    return sorted(years)


def display_day(day: date) -> str:
    """2024-12-31 -> 2024年12月31日."""
    return f"{day.year}年{day.month}月{day.day}日"
