"""Where a sentence grants something, and to whom: the grant detectors of the eligibility check.

A grant is a benefit word ("奖励", "贴息", "减免"), "降低" + a cost, an amount after 给予/奖励…, or a support
or service addressed to named firms ("支持/鼓励…企业…", "为…企业提供…", "对…企业实施…", "将…企业纳入…名单",
"…企业…的，可…", a raised ratio or quota). Its beneficiary decides whether it is a measure for enterprises
or for a bank, an agency or a person. The words and patterns are ``data/eligibility.toml``'s ([measures],
[grants]); this module holds only how they are applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from assistant.core.lexicon import pattern, table
from assistant.core.text import search_form
from assistant.decisions.eligibility.vocabulary import Term, scan_terms, vocabulary

__all__ = ["DUI", "ENTITIES", "Grant", "clauses", "grants"]

_WORDS = vocabulary().measures
_RULES = table("eligibility")["grants"]


def _rule(key: str) -> re.Pattern[str]:
    return pattern("eligibility", f"grants.{key}")


_STRONG = re.compile(
    "|".join(re.escape(t) for t in sorted((search_form(t) for t in _WORDS["strong_terms"]), key=len, reverse=True))
)
_LOWERING_OBJECTS = tuple(_WORDS["lowering_objects"])
_NEGATIVE = tuple(_WORDS["negative_before"])
# Words naming a beneficiary: an enterprise, or someone else (a bank, an agency, a person).
ENTITIES: dict[str, list[Term]] = {
    **{search_form(w): [("ent", "enterprise")] for w in _WORDS["enterprise"]},
    **{search_form(w): [("ent", "other")] for w in _WORDS["non_enterprise"]},
}
_CLAUSE_END = str(_RULES["clause_end"])
_AMOUNT = _rule("amount")
_AMOUNT_BEFORE = _rule("amount_before")
_AMOUNT_AFTER = _rule("amount_after")
_THRESHOLD_AFTER = _rule("threshold_after")
_THRESHOLD_BEFORE = _rule("threshold_before")
_RATE_BEFORE = _rule("rate_before")
_LOWERING = _rule("lowering")
_GIVE = _rule("give")
_GIVE_OBJECT = _rule("give_object")
_SUPPORT = _rule("support")
_SUPPORT_REACH = int(_RULES["support_reach"])
_TREAT = _rule("treat")
_SANCTION = _rule("sanction")
_SENTENCE_END = _rule("sentence_end")
_FOR_PROVIDE = _rule("for_provide")
_ENLIST = _rule("enlist")
_MAY = _rule("may")
_RAISE = _rule("raise")
DUI = _rule("dui")  # 对 introducing a beneficiary ("对首次“小升规”企业…")

Span = tuple[int, int]
Entity = tuple[int, int, str, list[Term]]  # a beneficiary word: (start, end, word, [("ent", kind)])


@dataclass(frozen=True)
class Grant:
    """One place where a sentence grants something: its clause, and to whom."""

    pos: int
    clause: Span
    who: str  # "enterprise" | "other" | "" (no beneficiary named)
    own_entity: bool  # the clause names an enterprise before the grant word


def clauses(s: str) -> list[Span]:
    """(start, end) of the clauses of a sentence, split at ，；。： (empty ones dropped)."""
    spans, start = [], 0
    for i, ch in enumerate(s):
        if ch in _CLAUSE_END:
            spans.append((start, i))
            start = i + 1
    if start < len(s):
        spans.append((start, len(s)))
    return [c for c in spans if c[1] > c[0]]


def _clause_of(spans: list[Span], pos: int) -> Span:
    return next((c for c in spans if c[0] <= pos < c[1]), (pos, pos + 1))


def _amount_grants(s: str, clause: Span) -> list[int]:
    """Amounts granted ("奖励20万元", "给予最高10万元"), not thresholds ("500万元以下企业", "不超过50%")."""
    out = []
    for m in _AMOUNT.finditer(s, *clause):
        before = s[clause[0] : m.start()]
        after = s[m.end() : clause[1]]
        rate = _RATE_BEFORE.search(s[max(clause[0], m.start() - 8) : m.start()])
        if _THRESHOLD_AFTER.match(after) and not rate:
            continue
        if _THRESHOLD_BEFORE.search(s[max(clause[0], m.start() - 4) : m.start()]) and not rate:
            continue
        if _AMOUNT_BEFORE.search(before) or _AMOUNT_AFTER.match(after) or rate:
            out.append(m.start())
    return out


def _first_entity(entities: list[Entity], lo: int, hi: int) -> str:
    """The kind of the first named beneficiary in s[lo:hi]: "enterprise" | "other" | ""."""
    inside = [e for e in entities if lo <= e[0] < hi]
    return inside[0][3][0][1] if inside else ""


def _lowered_costs(s: str, entities: list[Entity], positions: set[int], forced: dict[int, str]) -> None:
    """"降低" + a cost within 12 characters is a grant; "降低陶瓷企业用气成本" names whose cost."""
    for m in _LOWERING.finditer(s):
        obj = [s.find(o, m.end(), m.end() + 12) for o in _LOWERING_OBJECTS]
        obj = [i for i in obj if i >= 0]
        if obj:
            positions.add(m.start())
            who = _first_entity(entities, m.end(), min(obj))
            if who:
                forced[m.start()] = who


def _addressed(s: str, spans: list[Span], entities: list[Entity], forced: dict[int, str]) -> None:
    """Grants whose pattern names the beneficiary: support verbs, 给予 + a firm, 为…提供, 将…纳入…名单."""
    for m in _SUPPORT.finditer(s):
        clause = _clause_of(spans, m.start())
        who = _first_entity(entities, m.end(), min(clause[1], m.end() + _SUPPORT_REACH))
        if who:
            forced.setdefault(m.start(), who)
    for m in _GIVE.finditer(s):
        who = _first_entity(entities, m.end(), m.end() + 2)  # "给予“小升规”企业3年的适应调整期"
        near = [e for e in entities if m.end() <= e[0] <= m.end() + 8 and e[3][0][1] == "enterprise"]
        if who or near:
            forced.setdefault(m.start(), who or "enterprise")
    for m in _FOR_PROVIDE.finditer(s):
        who = _first_entity(entities, m.start(1), m.end(1))
        if who:
            forced.setdefault(m.end() - 2, who)
    for m in _ENLIST.finditer(s):
        who = _first_entity(entities, m.start(1), m.end(1))
        if who:
            forced.setdefault(m.end(1), who)


def _treatments(
    s: str, spans: list[Span], entities: list[Entity], positions: set[int], forced: dict[int, str]
) -> None:
    """"对…企业实施/开展/提供…" (not a sanction), and "…企业…的，可…" (a permission)."""
    for m in _TREAT.finditer(s):
        if _SANCTION.search(s, m.end(), m.end() + 12) or m.start() in positions:
            continue
        clause = _clause_of(spans, m.start())
        dui = [d.start() for d in DUI.finditer(s, max(0, m.start() - 40), m.start())]
        if dui and not _SENTENCE_END.search(s[dui[-1] : m.start()]):
            who = _beneficiary(s, m.start(), clause, entities)
            if who == "enterprise":
                forced.setdefault(m.start(), who)
    for i, (a, b) in enumerate(spans[:-1]):
        nxt = spans[i + 1]
        if s[a:b].rstrip().endswith("的") and _MAY.match(s, nxt[0]):
            if _first_entity(entities, a, b) == "enterprise" or any(
                a <= e[0] < b and e[3][0][1] == "enterprise" for e in entities
            ):
                forced.setdefault(nxt[0], "enterprise")  # "个体工商户转型…的，可以…"


@lru_cache(maxsize=8192)
def grants(s: str) -> tuple[Grant, ...]:
    """Every grant of a sentence (Simplified), with its clause and beneficiary; a sanction ("取消…补贴") is none."""
    spans = clauses(s)
    entities = scan_terms(s, ENTITIES)
    positions = {m.start() for m in _STRONG.finditer(s)}
    forced: dict[int, str] = {}  # grants whose beneficiary the pattern itself names
    _lowered_costs(s, entities, positions, forced)
    positions |= {m.start() for m in _GIVE_OBJECT.finditer(s)}
    positions |= {m.start() for m in _RAISE.finditer(s)}
    for clause in spans:
        positions |= set(_amount_grants(s, clause))
    _addressed(s, spans, entities, forced)
    _treatments(s, spans, entities, positions, forced)
    found = []
    for pos in sorted(positions | set(forced)):
        if any(s[max(0, pos - 8) : pos].endswith(w) or w in s[max(0, pos - 8) : pos] for w in _NEGATIVE):
            continue
        clause = _clause_of(spans, pos)
        own = any(clause[0] <= e[0] < pos and e[3][0][1] == "enterprise" for e in entities)
        own = own or forced.get(pos) == "enterprise"  # the pattern named the firm within the clause
        who = forced.get(pos) or _beneficiary(s, pos, clause, entities)
        found.append(Grant(pos, clause, who, own))
    return tuple(found)


def _beneficiary(s: str, pos: int, clause: Span, entities: list[Entity]) -> str:
    """ "enterprise" | "other" | "": the object of 给予, else the head of the 对-phrase, else the nearest noun."""
    give = s.rfind("给予", clause[0], pos + 2)
    if give >= 0:
        for start, _, _, entries in entities:
            if start == give + 2:
                return entries[0][1]
    dui = [m.start() for m in DUI.finditer(s, 0, pos)]
    if dui:
        d = dui[-1]
        ends = [i for i in (s.find(ch, d) for ch in "，,；;") if i >= 0]
        phrase_end = min([pos, *ends])
        inside = [e for e in entities if d < e[0] < phrase_end]
        de = s.rfind("的", d, phrase_end)
        tail = [e for e in inside if e[0] > de] if de >= 0 else []
        if tail or inside:
            return (tail or inside)[0][3][0][1]
    before = [e for e in entities if e[1] <= pos]
    if before:
        return before[-1][3][0][1]
    after = [e for e in entities if pos <= e[0] < clause[1]]
    return after[0][3][0][1] if after else ""
