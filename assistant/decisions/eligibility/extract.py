"""A measure's conditions and benefit, read from its sentence: who gets what.

The conditions come from the clauses that say who gets the grant (back to the 对-phrase or the clause naming
the firm), plus the item heading for kinds the sentence leaves open; what a beneficiary phrase says beyond the
vocabulary ("对新获得…质量奖的") becomes a condition that stays unknown. The benefit is the grant phrases
("首年奖励20万元；奖励10万元").
"""

from __future__ import annotations

import re

from assistant.core.lexicon import pattern, table, words
from assistant.core.text import search_form
from assistant.decisions.eligibility.conditions import (
    Condition,
    measure_terms,
    numeric_conditions,
    read_conditions,
    with_heading,
)
from assistant.decisions.eligibility.grants import DUI, ENTITIES, Entity, Grant, clauses, grants
from assistant.decisions.eligibility.vocabulary import scan_terms, vocabulary

__all__ = ["benefit", "measure_conditions"]

_TEXT_RULES = table("eligibility")["measure_text"]
_BENEFIT_CUTS = words("eligibility", "measure_text.benefit_cuts")
_BENEFIT_MAX = int(_TEXT_RULES["benefit_max"])
_BENEFIT_PHRASES = int(_TEXT_RULES["benefit_phrases"])
_PHRASE_END = pattern("eligibility", "grants.phrase_end")
_PLACE_ONLY = pattern("eligibility", "measure_text.place_only")
_NOT_CJK = re.compile(r"[^\u4e00-\u9fff]")
_DUI_REACH = 120  # characters from a 对 to the grant it introduces


def _who_start(s: str, g: Grant, spans: list[tuple[int, int]], entities: list[Entity]) -> int:
    """Where the text saying who gets grant ``g`` starts: its 对-phrase, else the nearest of its clause and
    the two before it that names a firm."""
    i = spans.index(g.clause) if g.clause in spans else 0
    start = g.clause[0]
    dui = [m.start() for m in DUI.finditer(s, 0, g.pos)]
    if dui and g.pos - dui[-1] < _DUI_REACH:
        return min(start, next(c[0] for c in spans if c[0] <= dui[-1] < c[1] + 1))
    for back in range(i, max(-1, i - 3), -1):
        start = spans[back][0]
        if any(spans[back][0] <= e[0] < (g.pos if back == i else spans[back][1]) for e in entities):
            break
    return start


def _condition_text(s: str) -> list[str]:
    """The clauses that say who gets what: each enterprise grant's clause, back to its 对-phrase or to the
    clause naming the firm; when none names one, the first later clause that does."""
    spans = clauses(s)
    entities = [e for e in scan_terms(s, ENTITIES) if e[3][0][1] == "enterprise"]
    found = [(_who_start(s, g, spans, entities), g.clause[1]) for g in grants(s) if g.who != "other"]
    if found and not any(a <= e[0] < b for a, b in found for e in entities):
        later = [c for c in spans if c[0] >= max(b for _, b in found) and any(c[0] <= e[0] < c[1] for e in entities)]
        found += later[:1]
    merged: list[tuple[int, int]] = []
    for a, b in sorted(found):
        if merged and a <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return [s[a:b] for a, b in merged]


def benefit(s: str) -> str:
    """The grant phrases of a measure (Simplified): "首年奖励20万元；奖励10万元"."""
    entities = scan_terms(s, ENTITIES)
    phrases: list[str] = []
    seen: set[tuple[int, int]] = set()
    for g in grants(s):
        if g.who == "other" or g.clause in seen:
            continue
        seen.add(g.clause)
        lo = g.clause[0]
        cuts = [lo] + [e[1] for e in entities if lo <= e[0] and e[1] <= g.pos]
        cuts += [s.rfind(w, lo, g.pos) + len(w) for w in _BENEFIT_CUTS if s.rfind(w, lo, g.pos) >= 0]
        phrase = s[max(cuts) : g.clause[1]].strip().lstrip("”、")
        if phrase.count("”") > phrase.count("“"):
            phrase = phrase.rstrip("”")
        if len(phrase) > _BENEFIT_MAX:
            phrase = phrase[:_BENEFIT_MAX] + "…"
        if phrase and phrase not in phrases:
            phrases.append(phrase)
    return "；".join(phrases[:_BENEFIT_PHRASES])


def _residuals(s: str) -> list[Condition]:
    """Unknown-word conditions of the 对-phrases naming a grant's beneficiary ("对新获得…质量奖的")."""
    rules = vocabulary().measures
    filler = sorted((search_form(w) for w in rules["filler"]), key=len, reverse=True)
    out: list[Condition] = []
    for g in grants(s):
        if g.who == "other":
            continue
        dui = [d.start() for d in DUI.finditer(s, 0, g.pos) if g.pos - d.start() < _DUI_REACH]
        if not dui:
            continue
        d = dui[-1]
        end = _PHRASE_END.search(s, d + 1)
        phrase = s[d + 1 : min(end.start() if end else len(s), g.pos)].strip().removeprefix("于")
        rest = phrase
        known = [(a, b) for a, b, _, _ in scan_terms(phrase, measure_terms())]
        known += [(pos, pos + len(c.text)) for pos, c in numeric_conditions(phrase)]
        for a, b in sorted(known, reverse=True):
            rest = rest[:a] + " " * (b - a) + rest[b:]
        for word in filler:
            rest = rest.replace(word, " ")
        left = _NOT_CJK.sub("", rest)
        text = phrase.rstrip("的")
        if len(left) >= int(rules["min_residual"]) and all(c.text != text for c in out):
            out.append(Condition("qualification", "other", text))
    return out


def _stated_clause(s: str) -> str:
    """What a practice that names no grant states: its first clause after the city ("温州市：建立小微企业
    “首贷”统计网络，…" -> "建立小微企业“首贷”统计网络"); the rest tells how and why, often by contrast."""
    for a, b in clauses(s):
        if not _PLACE_ONLY.match(s[a:b].strip()):
            return s[a:b]
    return s


def measure_conditions(simp: str, heading: list[Condition], practice: bool = False) -> tuple[Condition, ...]:
    """Conditions of the clauses saying who gets what; of a practice, those of the clause stating it."""
    conds: list[Condition] = []
    parts = [_stated_clause(simp)] if practice else _condition_text(simp) or [_stated_clause(simp)]
    for part in parts:
        for c in read_conditions(part):
            if all((c.kind, c.key, c.text) != (d.kind, d.key, d.text) for d in conds) and not (
                not c.members and any((c.kind, c.key) == (d.kind, d.key) for d in conds)
            ):
                conds.append(c)
    return with_heading(conds + _residuals(simp), heading)
