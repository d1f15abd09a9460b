"""The vocabulary of the eligibility check: ``data/eligibility.toml`` as typed tables, and the word scanning.

Qualifications, plans, industries, ownership, size words and the 2011 SME standard are read once into a
:class:`Vocabulary`; :func:`scan_terms` finds their words in a text. Profiles (``profile_text``) and measure
conditions (``conditions``) are both read with these words, so they live apart from either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from assistant.core.lexicon import table as data_table
from assistant.core.text import search_form

__all__ = [
    "SIZE_CLASSES",
    "IndustrySpec",
    "PlanSpec",
    "QualificationSpec",
    "Sector",
    "SizeTerm",
    "Term",
    "Vocabulary",
    "profile_terms",
    "scan_terms",
    "vocabulary",
]

SIZE_CLASSES = ("微型", "小型", "中型", "大型")  # ascending; the 2011 standard's classes
_LEVEL_KEYS = ("small", "medium", "large")  # TOML threshold tables for classes 1..3


@dataclass(frozen=True)
class QualificationSpec:
    name: str
    terms: tuple[str, ...]
    implied_by: tuple[str, ...] = ()
    excluded_by: tuple[str, ...] = ()
    met_when: tuple[tuple[str, ...], ...] = ()
    as_plan: str = ""
    profile_only: bool = False
    measure_only: bool = False
    supersedes: tuple[str, ...] = ()
    label: str = ""  # how reasons name it; the name by default
    revenue_at_least: dict[str, float] = field(default_factory=dict)  # sector -> 万元 (规上 by revenue)


@dataclass(frozen=True)
class PlanSpec:
    name: str
    terms: tuple[str, ...]
    met_by_qualifications: tuple[str, ...] = ()
    met_by_industry: tuple[str, ...] = ()
    measure: bool = True


@dataclass(frozen=True)
class SizeTerm:
    terms: tuple[str, ...]
    classes: tuple[str, ...] = ()
    max_employees: int | None = None


@dataclass(frozen=True)
class Sector:
    """One sector of the 2011 SME standard: thresholds of 小型, 中型, 大型 (employees 人, revenue 万元)."""

    name: str
    terms: tuple[str, ...]
    levels: tuple[dict[str, float], ...]  # index 0 = 小型, 1 = 中型, 2 = 大型
    industry: str = ""  # the industry group of a profile whose industry words name only this sector


@dataclass(frozen=True)
class IndustrySpec:
    name: str
    terms: tuple[str, ...]
    parent: str = ""
    qualifications: tuple[str, ...] = ()
    open: bool = False  # any industry may belong to it (科技): another stated industry leaves it unknown


@dataclass(frozen=True)
class Vocabulary:
    """``data/eligibility.toml`` as typed tables."""

    field_aliases: dict[str, str]
    tax_grades: tuple[str, ...]
    ownership: dict[str, tuple[str, ...]]
    ownership_conditions: dict[str, dict[str, tuple[str, ...]]]
    plan_verbs: tuple[str, ...]
    negations: tuple[str, ...]
    qualifications: dict[str, QualificationSpec]
    plans: dict[str, PlanSpec]
    size_terms: tuple[SizeTerm, ...]
    sectors: dict[str, Sector]
    default_sector: str
    industries: dict[str, IndustrySpec]
    industry_after: tuple[str, ...]
    industry_gap: int
    age_terms: dict[str, float]
    measures: dict[str, Any]

    def ancestors(self, industry: str) -> list[str]:
        """The industry group and its parents, most specific first."""
        out: list[str] = []
        while industry and industry not in out:
            out.append(industry)
            industry = self.industries[industry].parent if industry in self.industries else ""
        return out


def _tuple(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in (value or []))


def _qualification(name: str, spec: dict[str, Any]) -> QualificationSpec:
    return QualificationSpec(
        name=name,
        terms=_tuple(spec.get("terms")),
        implied_by=_tuple(spec.get("implied_by")),
        excluded_by=_tuple(spec.get("excluded_by")),
        met_when=tuple(_tuple(alt) for alt in spec.get("met_when", [])),
        as_plan=str(spec.get("as_plan", "")),
        profile_only=bool(spec.get("profile_only", False)),
        measure_only=bool(spec.get("met_when")),  # a composite condition, not a fact a profile states
        supersedes=_tuple(spec.get("supersedes")),
        label=str(spec.get("label", name)),
        revenue_at_least={k: float(v) for k, v in spec.get("revenue_at_least", {}).items()},
    )


def _plan(name: str, spec: dict[str, Any]) -> PlanSpec:
    return PlanSpec(
        name=name,
        terms=_tuple(spec.get("terms")),
        met_by_qualifications=_tuple(spec.get("met_by_qualifications")),
        met_by_industry=_tuple(spec.get("met_by_industry")),
        measure=bool(spec.get("measure", True)),
    )


def _sector(name: str, spec: dict[str, Any]) -> Sector:
    levels = tuple(dict(spec.get(k, {})) for k in _LEVEL_KEYS)
    return Sector(name, _tuple(spec.get("terms")), levels, str(spec.get("industry", "")))


def _industry(name: str, spec: dict[str, Any]) -> IndustrySpec:
    return IndustrySpec(
        name=name,
        terms=_tuple(spec.get("terms")),
        parent=str(spec.get("parent", "")),
        qualifications=_tuple(spec.get("qualifications")),
        open=bool(spec.get("open", False)),
    )


@lru_cache(maxsize=1)
def vocabulary() -> Vocabulary:
    data = data_table("eligibility")
    standard = data["sme_standard"]
    return Vocabulary(
        field_aliases={alias: name for name, words in data["field_aliases"].items() for alias in [name, *words]},
        tax_grades=_tuple(data["tax_credit"]["grades"]),
        ownership={k: _tuple(v) for k, v in data["ownership"].items()},
        ownership_conditions={
            k: {"met": _tuple(v.get("met")), "not_met": _tuple(v.get("not_met"))}
            for k, v in data["ownership_conditions"].items()
        },
        plan_verbs=_tuple(data["profile_words"]["plan_verbs"]),
        negations=_tuple(data["profile_words"]["negations"]),
        qualifications={name: _qualification(name, spec) for name, spec in data["qualifications"].items()},
        plans={name: _plan(name, spec) for name, spec in data["plans"].items()},
        size_terms=tuple(
            SizeTerm(_tuple(s["terms"]), _tuple(s.get("classes")), s.get("max_employees")) for s in data["size_terms"]
        ),
        sectors={name: _sector(name, spec) for name, spec in standard["sectors"].items()},
        default_sector=str(standard["default"]),
        industries={name: _industry(name, spec) for name, spec in data["industries"].items()},
        industry_after=_tuple(data["industry_context"]["after"]),
        industry_gap=int(data["industry_context"]["max_gap"]),
        age_terms={k: float(v) for k, v in data["age_terms"].items()},
        measures=dict(data["measures"]),
    )


Term = tuple[str, str]  # (kind, canonical key)


def scan_terms(text: str, table: dict[str, list[Term]]) -> list[tuple[int, int, str, list[Term]]]:
    """Non-overlapping occurrences of the table's words in ``text``, longest word first, in text order.

    Returns (start, end, word, [(kind, key), ...]); a word may stand for several entries (外贸 is an
    industry and an export plan).
    """
    taken = [False] * len(text)
    hits: list[tuple[int, int, str, list[Term]]] = []
    for word in sorted(table, key=len, reverse=True):
        start = text.find(word)
        while start >= 0:
            end = start + len(word)
            if not any(taken[start:end]):
                for i in range(start, end):
                    taken[i] = True
                hits.append((start, end, word, table[word]))
            start = text.find(word, start + 1)
    return sorted(hits)


def _add(table: dict[str, list[Term]], words: tuple[str, ...], entry: Term) -> None:
    for word in words:
        if word and entry not in table.setdefault(search_form(word), []):
            table[search_form(word)].append(entry)


@lru_cache(maxsize=1)
def profile_terms() -> dict[str, list[Term]]:
    """Words a profile sentence or a profile list item may use, each to its field and canonical name."""
    v = vocabulary()
    table: dict[str, list[Term]] = {}
    for q in v.qualifications.values():
        if not q.measure_only:
            _add(table, (q.name, *q.terms), ("qualification", q.name))
    for p in v.plans.values():
        _add(table, (p.name, *p.terms), ("plan", p.name))
    for name, words in v.ownership.items():
        _add(table, (name, *words), ("ownership", name))
    for ind in v.industries.values():
        _add(table, (ind.name, *ind.terms), ("industry", ind.name))
    for sector in v.sectors.values():
        _add(table, sector.terms, ("sector", sector.name))
    return table
