"""What a document's own text says about its life: effective date, expiry, repeals, delegated validity.

Only sentences that state it count (``data/lifecycle.toml``): a document that says nothing gets nothing,
never a guess. Each value keeps the exact sentence of the cleaned text it came from, with offsets, so it
can be cited like any answer. Patterns run on the search form (Simplified, half-width) of one sentence at a
time; the sentence quoted back is the original (a Traditional text is quoted in Traditional).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from assistant.core.lexicon import table
from assistant.core.text import search_form

_SENTENCE = re.compile(r"[^。；;！？!?\n]{1,2000}[。；;！？!?]?")
_CN_DIGITS = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"零": 0, "○": 0, "两": 2}


@lru_cache(maxsize=1)
def _rules() -> dict[str, Any]:
    """``data/lifecycle.toml`` compiled: placeholders filled, every pattern bounded."""
    data = table("lifecycle")
    p = data["patterns"]

    def alternation(words: list[str]) -> str:
        return "(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + ")"

    fill = {
        "{date}": p["date"],
        "{n}": p["years"],
        "{validity}": alternation(data["validity_words"]),
        "{verb}": alternation(data["effect_verbs"]),
    }

    def compile_(key: str) -> re.Pattern[str]:
        text = p[key]
        for name, value in fill.items():
            text = text.replace(name, value)
        return re.compile(text)

    keys = ("date_parts", "effective", "effective_on_issue", "period", "period_years", "status_label", "repeal",
            "delegation", "number", "number_more", "number_lead", "title", "bare_title", "outline", "trigger")
    rules: dict[str, Any] = {key: compile_(key) for key in keys}
    rules["self_words"] = re.compile(alternation([search_form(w) for w in data["self_words"]]))
    rules["status_labels"] = dict(data["status_labels"])
    return rules


@dataclass(frozen=True)
class Sentence:
    """One sentence of the cleaned text: the original words, their offsets, and the search form."""

    text: str
    start: int
    end: int
    form: str


@dataclass
class Extracted:
    """The lifecycle facts one document's text states; each list of evidence holds (sentence, kind)."""

    status: str | None = None
    effective_from: date | None = None
    effective_on_issue: bool = False  # 自印发之日起施行: effective from the document's date
    expires_on: date | None = None
    years: int | None = None  # 有效期X年, counted from effective_from
    supersedes: list[tuple[str, str]] = field(default_factory=list)  # (title, 文号) pairs
    delegated_to: list[str] = field(default_factory=list)  # 文号 or titles
    evidence: list[tuple[Sentence, str]] = field(default_factory=list)


def sentences(text: str) -> list[Sentence]:
    """Sentences of ``text`` that may state a lifecycle (a trigger word in them), with exact offsets.

    The search form is made once for the whole text; where conversion changes the length (rare), per sentence.
    """
    form = search_form(text)
    aligned = len(form) == len(text)
    trigger = _rules()["trigger"]
    out = []
    for m in _SENTENCE.finditer(text):
        chunk = m.group(0)
        stripped = chunk.strip()
        if not stripped:
            continue
        start = m.start() + chunk.index(stripped)
        end = start + len(stripped)
        sentence_form = form[start:end] if aligned else search_form(stripped)
        if trigger.search(sentence_form):
            out.append(Sentence(stripped, start, end, sentence_form))
    return out


def _cn_number(text: str) -> int | None:
    """3 / 三 / 十二 / 二〇二四 as an int."""
    if text.isdigit():
        return int(text)
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (_CN_DIGITS.get(tens, 0) if tens else 1) * 10 + (_CN_DIGITS.get(ones, 0) if ones else 0)
    digits = [_CN_DIGITS.get(c) for c in text]
    return None if None in digits else int("".join(str(d) for d in digits))


def parse_date(text: str) -> date | None:
    """2024年1月1日 / 2025年底 / 2024-01-01 / 二〇二四年一月一日 -> a date; None when not a real date."""
    m = _rules()["date_parts"].search(search_form(text))
    if not m:
        return None
    year = _cn_number(m.group(1))
    if m.group(4):  # 年底 / 年末
        month, day = 12, 31
    else:
        month, day = _cn_number(m.group(2)), _cn_number(m.group(3))
    try:
        return date(year, month, day) if year and month and day else None
    except ValueError:
        return None


def add_years(start: date, years: int) -> date:
    """The last day of a period of ``years`` years from ``start`` (有效期3年 from 2024-01-01 -> 2026-12-31)."""
    try:
        end = start.replace(year=start.year + years)
    except ValueError:  # 29 February
        end = start.replace(year=start.year + years, day=28) + timedelta(days=1)
    return end - timedelta(days=1)


def _about_document(sentence: Sentence, at: int) -> bool:
    """The phrase at ``at`` speaks of the document itself: the sentence names it, or starts with the phrase."""
    rules = _rules()
    before = sentence.form[:at]
    if rules["self_words"].search(before):
        return True
    before = rules["outline"].sub("", before)
    return not before.strip(" \t\u3000，,:：")


def canonical_number(prefix: str, year: str, serial: str) -> str:
    """One spelling of a 文号 whatever its brackets: 温政发[2023]6號 -> 温政发〔2023〕6号."""
    for _ in range(3):
        prefix = _rules()["number_lead"].sub("", prefix)
    return f"{prefix}〔{year}〕{int(serial)}号"


def normal_number(text: str) -> str:
    """The canonical form of the first 文号 in ``text`` ("" when it has none)."""
    m = _rules()["number"].search(search_form(text or ""))
    return canonical_number(*m.groups()) if m else ""


def references(text: str) -> list[tuple[str, str]]:
    """(title, 文号) pairs a clause names: 《A》（X号）is one pair; 温政发〔2023〕6号、8号 are two numbers."""
    rules = _rules()
    numbers: list[tuple[int, str]] = []  # (start, canonical 文号)
    for m in rules["number"].finditer(text):
        prefix, year, serial = m.groups()
        numbers.append((m.start(), canonical_number(prefix, year, serial)))
        tail = m.end()
        while (more := rules["number_more"].match(text, tail)) is not None:
            numbers.append((m.start(), canonical_number(prefix, year, more.group(1))))
            tail = more.end()
    refs: list[tuple[str, str]] = []
    paired: set[str] = set()
    for m in rules["title"].finditer(text):
        after = text[m.end() : m.end() + 2]
        number = next((n for pos, n in numbers if m.end() < pos <= m.end() + 2), "") if after[:1] in "（([〔" else ""
        paired.add(number)
        refs.append((m.group(1).strip(), number))
    refs += [("", n) for _, n in numbers if n not in paired]
    return list(dict.fromkeys(refs))


def _repeal_clause(form: str, end: int) -> str:
    """The clause before a repeal phrase: back to the last comma outside 《》, or the sentence start."""
    depth = 0
    for i in range(end - 1, -1, -1):
        ch = form[i]
        if ch == "》":
            depth += 1
        elif ch == "《":
            depth = max(0, depth - 1)
        elif ch in "，,：:" and depth == 0:
            return form[i + 1 : end]
    return form[:end]


def _dates(ex: Extracted, s: Sentence) -> None:
    rules = _rules()
    for m in rules["effective"].finditer(s.form):
        if _about_document(s, m.start()) and (day := parse_date(m.group(1))):
            ex.effective_from = ex.effective_from or day
            ex.evidence.append((s, "effective_from"))
    for m in rules["effective_on_issue"].finditer(s.form):
        if _about_document(s, m.start()):
            ex.effective_on_issue = True
            ex.evidence.append((s, "effective_from"))
    for m in rules["period"].finditer(s.form):
        if _about_document(s, m.start()) and (end := parse_date(m.group(2))):
            start = parse_date(m.group(1)) if m.group(1) else None
            ex.effective_from = ex.effective_from or start
            ex.expires_on = ex.expires_on or end
            ex.evidence.append((s, "expires_on"))
    for m in rules["period_years"].finditer(s.form):
        if _about_document(s, m.start()) and (n := _cn_number(m.group(1))):
            ex.years = ex.years or n
            ex.evidence.append((s, "expires_on"))


def _links(ex: Extracted, s: Sentence) -> None:
    rules = _rules()
    for m in rules["status_label"].finditer(s.form):
        ex.status = ex.status or rules["status_labels"][m.group(1)]
        ex.evidence.append((s, "status"))
    for m in rules["repeal"].finditer(s.form):
        clause = _repeal_clause(s.form, m.start())
        refs = references(clause)
        if not refs and (bare := rules["bare_title"].search(clause)):
            refs = [(bare.group(1), "")]
        if refs:
            ex.supersedes += [r for r in refs if r not in ex.supersedes]
            ex.evidence.append((s, "supersedes"))
    for m in rules["delegation"].finditer(s.form):
        named = [number or title for title, number in references(m.group(1))]
        if named and _about_document(s, m.start()):
            ex.delegated_to += [n for n in named if n not in ex.delegated_to]
            ex.evidence.append((s, "delegated_to"))


def extract(text: str) -> Extracted:
    """Every lifecycle statement of a cleaned document text (nothing when it states none)."""
    ex = Extracted()
    for s in sentences(text):
        _dates(ex, s)
        _links(ex, s)
    seen: set[tuple[int, str]] = set()
    ex.evidence = [e for e in ex.evidence if (e[0].start, e[1]) not in seen and not seen.add((e[0].start, e[1]))]
    return ex
