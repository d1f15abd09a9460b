"""Years of a figure: never answer a question about one year with another year's figure in silence.

The patterns and the notice are data (``data/year_figures.toml``, which explains them).
"""

from __future__ import annotations

import re

from assistant.core.lexicon import table
from assistant.core.markers import strip_markers
from assistant.core.text import search_form, to_simplified
from assistant.retrieval.plan import QueryPlan

_YEARS_DATA = table("year_figures")
ASKED_YEARS = tuple(re.compile(p["pattern"]) for p in _YEARS_DATA["asked"])
STATED_YEARS = tuple(re.compile(p["pattern"]) for p in _YEARS_DATA["stated"])
EVERY_YEAR = re.compile(_YEARS_DATA["every_year"]["pattern"])
YEAR_LABELS = tuple((re.compile(x["pattern"]), str(x["label"])) for x in _YEARS_DATA["notice"]["label"])


def years_in(text: str, patterns: tuple[re.Pattern[str], ...]) -> set[int]:
    """The years the patterns find, a range ("2023-2025年") standing for each year in it."""
    text = strip_markers(to_simplified(search_form(text)))
    years: set[int] = set()
    for pattern in patterns:
        for m in pattern.finditer(text):
            first = int(m.group("year"))
            last = int(m.groupdict().get("until") or first)
            years.update(range(first, last + 1) if 0 <= last - first <= 50 else (first, last))
    return years


def year_mismatch(plan: QueryPlan, draft: str) -> list[int]:
    """The years an answer states its figure for when the number question asks about none of them.

    "温州2024年新增多少家…" answered by "到2025年，新增…": [2025]. The date the question is asked as of
    ("2024年时…") is already out of ``plan.text``; a sentence for every year (每年…) fits any year.
    """
    if plan.english or "number" not in plan.kinds:
        return []
    asked = years_in(plan.text, ASKED_YEARS)
    stated = years_in(draft, STATED_YEARS)
    if not asked or not stated or asked & years_in(draft, ASKED_YEARS) or EVERY_YEAR.search(to_simplified(draft)):
        return []  # the asked year is named (a figure "截至2021年6月末" for a 2021 question), or any year fits
    return sorted(stated)


def year_notice(years: list[int], draft: str) -> str:
    """"文件只给出2025年的目标：", put before an answer whose figure is for another year than the one asked."""
    simplified = to_simplified(draft)
    label = next((name for pattern, name in YEAR_LABELS if pattern.search(simplified)), None)
    text = str(_YEARS_DATA["notice"]["text"])
    return text.format(years="、".join(f"{y}年" for y in years), label=label or _YEARS_DATA["notice"]["default"])
