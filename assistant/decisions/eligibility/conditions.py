"""The conditions one measure sentence states ("对年销售收入5000万元以上的规模以上陶瓷企业" -> revenue >= 5000,
规上, industry 陶瓷), read by rules with the vocabulary; none of it depends on a profile.

Words written together describe one firm ("科技型初创企业": one alternative, every word must hold); units
joined by 、/和/或 are alternatives ("高新技术、专精特新等企业": any one holds).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from assistant.core.lexicon import pattern, words
from assistant.core.text import search_form
from assistant.decisions.eligibility.vocabulary import Term, scan_terms, vocabulary

__all__ = ["Condition", "measure_terms", "numeric_conditions", "read_conditions", "with_heading"]


@dataclass(frozen=True)
class Condition:
    kind: str
    key: str  # canonical name (qualification, plan, industry, ownership, size word)
    text: str  # as worded (Simplified)
    low: float | None = None  # numeric thresholds: revenue (万元), employees, age (years)
    high: float | None = None
    grades: tuple[str, ...] = ()  # tax credit grades that meet it
    members: tuple[Condition, ...] = ()  # alternatives ("高新技术、专精特新等企业"): met when any is met


_PRIORITY = {"qualification": 0, "tax_credit": 1, "age": 2, "size": 3, "plan": 4, "ownership": 5, "industry": 6}


@lru_cache(maxsize=1)
def measure_terms() -> dict[str, list[Term]]:
    """Words that make a condition when a measure uses them, each to (kind, key)."""
    v = vocabulary()
    table: dict[str, list[Term]] = {}

    def add(names: tuple[str, ...], entry: Term) -> None:
        for word in names:
            word = search_form(word)
            if word and entry not in table.setdefault(word, []):
                table[word].append(entry)

    for q in v.qualifications.values():
        if not q.profile_only:
            add(q.terms, ("qualification", q.name))
    for p in v.plans.values():
        if p.measure:
            add(p.terms, ("plan", p.name))
    for i, size in enumerate(v.size_terms):
        add(size.terms, ("size", str(i)))
    for name in v.ownership_conditions:
        add(v.ownership.get(name, ()), ("ownership", name))
    for ind in v.industries.values():
        add(ind.terms, ("industry", ind.name))
    for word in v.age_terms:
        add((word,), ("age", word))
    for entries in table.values():
        entries.sort(key=lambda e: _PRIORITY[e[0]])
    return table


_REVENUE = pattern("eligibility", "figures.measure.revenue")
_EMPLOYEES = pattern("eligibility", "figures.measure.employees")
_AGE = pattern("eligibility", "figures.measure.age")
_TAX = pattern("eligibility", "figures.measure.tax")
_UPPER_WORDS = words("eligibility", "figures.measure.upper_words")
_JOINED = pattern("eligibility", "conditions.joined")
_SEPARATOR = pattern("eligibility", "conditions.separator")


def _threshold(kind: str, m: re.Match[str], value: float) -> tuple[int, Condition]:
    """A numeric condition: "…以下/以内/不足" is an upper bound, anything else ("以上", "达到") a lower one."""
    upper = any(w in m.group(0) for w in _UPPER_WORDS)
    cond = Condition(kind, kind, m.group(0), None if upper else value, value if upper else None)
    return m.start(), cond


def numeric_conditions(s: str) -> list[tuple[int, Condition]]:
    """(position, condition) of the revenue, employee, age and tax-grade thresholds a sentence states."""
    out = [
        _threshold("revenue", m, float(m.group(1)) * (10000 if m.group(2) == "亿元" else 1))
        for m in _REVENUE.finditer(s)
    ]
    out += [_threshold("employees", m, float(m.group(1))) for m in _EMPLOYEES.finditer(s)]
    out += [(m.start(), Condition("age", "age", m.group(0), None, float(m.group(1)))) for m in _AGE.finditer(s)]
    grades = vocabulary().tax_grades
    for m in _TAX.finditer(s):
        grade = m.group(1) or m.group(3)
        allowed = grades[: grades.index(grade) + 1] if m.group(2) else (grade,)
        out.append((m.start(), Condition("tax_credit", "tax_credit", m.group(0), grades=allowed)))
    return out


def _industry_in_context(s: str, end: int) -> bool:
    """An industry word names the beneficiary only before 企业/项目/行业… ("陶瓷企业", "工业项目")."""
    v = vocabulary()
    window = s[end : end + v.industry_gap + 4]
    return any(0 <= window.find(word) <= v.industry_gap for word in v.industry_after)


Hit = tuple[int, int, Condition]  # (start, end, condition) in the sentence


def _hits(s: str) -> list[Hit]:
    """Every condition word and threshold of the sentence, in text order (a word inside a threshold is not)."""
    v = vocabulary()
    hits: list[Hit] = []
    numeric = numeric_conditions(s)
    numeric_spans = [(pos, pos + len(c.text)) for pos, c in numeric]
    for start, end, word, entries in scan_terms(s, measure_terms()):
        if any(a <= start < b for a, b in numeric_spans):
            continue
        for kind, key in entries:
            if kind == "industry" and not _industry_in_context(s, end):
                continue
            if kind == "age":
                hits.append((start, end, Condition("age", key, word, None, v.age_terms[key])))
            else:
                hits.append((start, end, Condition(kind, key, word)))
            break
    hits += [(pos, pos + len(c.text), c) for pos, c in numeric]
    hits.sort(key=lambda h: h[0])
    return hits


def _categorical(c: Condition) -> bool:
    return c.kind not in ("revenue", "employees", "tax_credit")


def _groups(s: str, hits: list[Hit]) -> list[list[Hit]]:
    """Hits as groups of alternatives; a unit of words written together becomes one "all" alternative."""
    # Words written together describe one firm ("科技型初创企业", "规模以上陶瓷企业"): a unit. Plans are not
    # joined ("专利和商标质押": 质押 goes with both).
    units: list[list[Hit]] = []
    for hit in hits:
        last = units[-1][-1] if units else None
        joinable = _categorical(hit[2]) and _categorical(last[2]) if last else False
        if joinable and "plan" not in (hit[2].kind, last[2].kind) and _JOINED.fullmatch(s[last[1] : hit[0]]):
            units[-1].append(hit)
        else:
            units.append([hit])
    # Units joined by 、/和/或 are alternatives; a unit of several words is then one alternative (all of them).
    unit_groups: list[list[list[Hit]]] = []
    for unit in units:
        prev = unit_groups[-1][-1][-1] if unit_groups else None
        if prev and _categorical(unit[0][2]) and _categorical(prev[2]) and _SEPARATOR.match(s[prev[1] : unit[0][0]]):
            unit_groups[-1].append(unit)
        else:
            unit_groups.append([unit])
    groups: list[list[Hit]] = []
    for ug in unit_groups:
        if len(ug) == 1:
            groups += [[hit] for hit in ug[0]]
            continue
        group = []
        for unit in ug:
            if len(unit) == 1:
                group.append(unit[0])
                continue
            conds = tuple(c for _, _, c in unit)
            text = s[unit[0][0] : unit[-1][1]]
            group.append((unit[0][0], unit[-1][1], Condition(conds[0].kind, "all", text, members=conds)))
        groups.append(group)
    return groups


def _ident(c: Condition) -> tuple[str, str]:
    return (c.kind, c.text if c.members else c.key)


def read_conditions(s: str) -> list[Condition]:
    """Conditions a measure sentence (Simplified, half-width) states; adjacent alternatives form one group."""
    out: list[Condition] = []
    seen: set[tuple[str, str]] = set()
    for group in _groups(s, _hits(s)):
        conds = [c for _, _, c in group if _ident(c) not in seen or len(group) > 1]
        keys = {_ident(c) for c in conds}
        if not conds or (len(keys) == 1 and _ident(conds[0]) in seen):
            continue
        seen |= keys
        if len(keys) == 1:
            out.append(conds[0])
            continue
        kinds = {c.kind for c in conds}
        text = s[group[0][0] : group[-1][1]]
        out.append(Condition(kinds.pop() if len(kinds) == 1 else "qualification", "any", text, members=tuple(conds)))
    return out


def with_heading(sentence: list[Condition], heading: list[Condition]) -> tuple[Condition, ...]:
    """Heading conditions add what the sentence leaves open (only kinds it does not state); a condition
    that another one supersedes (规上 next to 首次上规) is dropped."""
    kinds = {c.kind for c in sentence} | {m.kind for c in sentence for m in c.members}
    extra = [c for c in heading if c.kind not in kinds and not any(m.kind in kinds for m in c.members)]
    conds = sentence + extra
    quals = vocabulary().qualifications
    dropped = {
        name for c in conds if c.kind == "qualification" and c.key in quals for name in quals[c.key].supersedes
    }
    return tuple(c for c in conds if not (c.kind == "qualification" and c.key in dropped))
