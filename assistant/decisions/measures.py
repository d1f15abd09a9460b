"""The measures of the corpus and their conditions, read by rules once per index build ("政策找人").

This module holds :class:`Condition` and :class:`Measure`, :func:`read_conditions` (conditions a sentence
states), :func:`is_measure` and :func:`extract_measures` / :func:`measures_for` (the measures of a catalog,
cached per build). None of it depends on a profile, so it is kept apart from the check in ``matching``.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from assistant.core.text import search_form, to_simplified
from assistant.decisions.vocabulary import Term, scan_terms, vocabulary
from assistant.qa.citing import split_sentences
from assistant.retrieval.plan import NATIONAL

__all__ = ["Condition", "Measure", "extract_measures", "is_measure", "measures_for", "read_conditions"]


# --------------------------------------------------------------------------------------------------------
# Conditions as read from a measure (profile-independent)
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    kind: str
    key: str  # canonical name (qualification, plan, industry, ownership, size word)
    text: str  # as worded (Simplified)
    low: float | None = None  # numeric thresholds: revenue (万元), employees, age (years)
    high: float | None = None
    grades: tuple[str, ...] = ()  # tax credit grades that meet it
    members: tuple[Condition, ...] = ()  # alternatives ("高新技术、专精特新等企业"): met when any is met


@dataclass(frozen=True)
class Measure:
    """A measure of the index, with its conditions; built once per index build."""

    measure_id: str
    title: str
    text: str
    doc_id: str
    node_id: str
    city: str
    national: bool
    juris_parts: tuple[str, ...]
    benefit: str
    department: str
    conditions: tuple[Condition, ...]
    order: tuple[int, int]


_PRIORITY = {
    "qualification": 0,
    "tax_credit": 1,
    "age": 2,
    "size": 3,
    "plan": 4,
    "ownership": 5,
    "industry": 6,
}


@lru_cache(maxsize=1)
def _measure_terms() -> dict[str, list[Term]]:
    """Words that make a condition when a measure uses them, each to (kind, key)."""
    v = vocabulary()
    table: dict[str, list[Term]] = {}

    def add(words: tuple[str, ...], entry: Term) -> None:
        for word in words:
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


# Numbers start where their run starts ("(?<!...)") and whitespace is possessive ("\s*+" / "\s++"), so a
# search over a long run of digits, numerals or spaces stays linear (issue #16; tests/test_patterns.py).
_AMOUNT = re.compile(r"(?:(?<!\d)\d+(?:\.\d+)?|(?<![一二两三四五六七八九十百千])[一二两三四五六七八九十百千]+)\s*+(?:万元|亿元|元|%|‰|倍|万)")
_REVENUE = re.compile(
    r"(?:年)?(?:销售收入|营业收入|主营业务收入|营收|销售额)(?:在|达到|达|超过|不低于|不足|低于)?\s*"
    r"(\d+(?:\.\d+)?)\s*(万元|亿元)\s*(及以上|以上|及以下|以下|以内)?"
)
_EMPLOYEES = re.compile(
    r"(?:员工|职工|从业人员|从业人数|就业岗位|吸纳就业|带动就业)(?:人数)?(?:在|达到|达|超过|不低于|不足|低于)?\s*"
    r"(\d+)\s*(?:人|名|个)\s*(及以上|以上|及以下|以下|以内)?"
)
_AGE = re.compile(r"(?:成立|注册|设立)(?:时间)?(?:未满|不满|不超过|不足)?\s*(\d+)\s*年(?:以内|内|以下)")
_TAX = re.compile(r"纳税信用(?:等级)?(?:为|评价为|达到)?\s*([ABMCD])\s*级\s*(及以上|以上)?|([ABMCD])级纳税人")
_LOWER_WORDS = ("以下", "及以下", "以内", "不足", "低于", "未满", "不满", "不超过")


def _threshold(kind: str, m: re.Match[str], value: float) -> tuple[int, Condition]:
    """A numeric condition: "…以下/以内/不足" is an upper bound, anything else ("以上", "达到") a lower one."""
    upper = any(w in m.group(0) for w in _LOWER_WORDS)
    cond = Condition(kind, kind, m.group(0), None if upper else value, value if upper else None)
    return m.start(), cond


def _numeric_conditions(s: str) -> list[tuple[int, Condition]]:
    out = [
        _threshold("revenue", m, float(m.group(1)) * (10000 if m.group(2) == "亿元" else 1))
        for m in _REVENUE.finditer(s)
    ]
    out += [_threshold("employees", m, float(m.group(1))) for m in _EMPLOYEES.finditer(s)]
    out += [
        (m.start(), Condition("age", "age", m.group(0), None, float(m.group(1)))) for m in _AGE.finditer(s)
    ]
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


_JOINED = re.compile(r"(?:型|类)?")
_SEPARATOR = re.compile(r"^(?:企业|型|类|等|”|“)*\s*(?:、|和|或|及|与|/|以及|或者)\s*(?:“)?$")


def read_conditions(s: str) -> list[Condition]:
    """Conditions a measure sentence (Simplified, half-width) states; adjacent alternatives form one group."""
    v = vocabulary()
    hits: list[tuple[int, int, Condition]] = []
    numeric = _numeric_conditions(s)
    numeric_spans = [(pos, pos + len(c.text)) for pos, c in numeric]
    for start, end, word, entries in scan_terms(s, _measure_terms()):
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

    def categorical(c: Condition) -> bool:
        return c.kind not in ("revenue", "employees", "tax_credit")

    # Words written together describe one firm ("科技型初创企业", "规模以上陶瓷企业"): a unit. Plans are not
    # joined ("专利和商标质押": 质押 goes with both).
    units: list[list[tuple[int, int, Condition]]] = []
    for hit in hits:
        last = units[-1][-1] if units else None
        joinable = categorical(hit[2]) and categorical(last[2]) if last else False
        if joinable and "plan" not in (hit[2].kind, last[2].kind) and _JOINED.fullmatch(s[last[1] : hit[0]]):
            units[-1].append(hit)
        else:
            units.append([hit])
    # Units joined by 、/和/或 are alternatives; a unit of several words is then one alternative (all of them).
    unit_groups: list[list[list[tuple[int, int, Condition]]]] = []
    for unit in units:
        prev = unit_groups[-1][-1][-1] if unit_groups else None
        if prev and categorical(unit[0][2]) and categorical(prev[2]) and _SEPARATOR.match(s[prev[1] : unit[0][0]]):
            unit_groups[-1].append(unit)
        else:
            unit_groups.append([unit])
    groups: list[list[tuple[int, int, Condition]]] = []
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

    def ident(c: Condition) -> tuple[str, str]:
        return (c.kind, c.text if c.members else c.key)

    out: list[Condition] = []
    seen: set[tuple[str, str]] = set()
    for group in groups:
        conds = [c for _, _, c in group if ident(c) not in seen or len(group) > 1]
        keys = {ident(c) for c in conds}
        if not conds or (len(keys) == 1 and ident(conds[0]) in seen):
            continue
        seen |= keys
        if len(keys) == 1:
            out.append(conds[0])
            continue
        kinds = {c.kind for c in conds}
        text = s[group[0][0] : group[-1][1]]
        out.append(
            Condition(kinds.pop() if len(kinds) == 1 else "qualification", "any", text, members=tuple(conds))
        )
    return out


def _with_heading(sentence: list[Condition], heading: list[Condition]) -> tuple[Condition, ...]:
    """Heading conditions add what the sentence leaves open (only kinds it does not state); a condition
    that another one supersedes (规上 next to 首次上规) is dropped."""
    kinds = {c.kind for c in sentence} | {m.kind for c in sentence for m in c.members}
    extra = [c for c in heading if c.kind not in kinds and not any(m.kind in kinds for m in c.members)]
    conds = sentence + extra
    quals = vocabulary().qualifications
    dropped = {
        name
        for c in conds
        if c.kind == "qualification" and c.key in quals
        for name in quals[c.key].supersedes
    }
    return tuple(c for c in conds if not (c.kind == "qualification" and c.key in dropped))


# --------------------------------------------------------------------------------------------------------
# Measure extraction
# --------------------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _rules() -> dict[str, Any]:
    m = vocabulary().measures
    strong = tuple(search_form(t) for t in m["strong_terms"])
    return {
        "strong_re": re.compile("|".join(re.escape(t) for t in sorted(strong, key=len, reverse=True))),
        "lowering": tuple(m["lowering_objects"]),
        "exclude": tuple(re.compile(p) for p in m["exclude_patterns"]),
        "continuation": tuple(m["continuation"]),
        "negative": tuple(m["negative_before"]),
        "entities": {
            **{search_form(w): [("ent", "enterprise")] for w in m["enterprise"]},
            **{search_form(w): [("ent", "other")] for w in m["non_enterprise"]},
        },
    }


_CLAUSE_END = "，,；;。：:"
_GRANT_BEFORE = re.compile(r"给予|最高|提供|奖励|补助|补贴|资助|贴息|额度|费率|利率|分别|返还|减按|按")
_GRANT_AFTER = re.compile(
    r"^\s*(?:的)?(?:一次性)?(?:奖励|奖补|补助|补贴|资助|额度|授信|信用贷款|贴息|的?补助)"
)
_THRESHOLD_AFTER = re.compile(r"^\s*(?:及以上|以上|及以下|以下|以内)")
_GIVE_OBJECT = re.compile(r"给予.{0,10}?(?:扶持|支持|优惠|资金|政策|倾斜|奖|补|贴|资助|减免|优先|指导|帮扶|便利)")


@dataclass(frozen=True)
class _Grant:
    """One place where a sentence grants something: its clause, and to whom."""

    pos: int
    clause: tuple[int, int]
    who: str  # "enterprise" | "other" | "" (no beneficiary named)
    own_entity: bool  # the clause names an enterprise before the grant word


def _clauses(s: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for i, ch in enumerate(s):
        if ch in _CLAUSE_END:
            spans.append((start, i))
            start = i + 1
    if start < len(s):
        spans.append((start, len(s)))
    return [c for c in spans if c[1] > c[0]]


def _clause_of(clauses: list[tuple[int, int]], pos: int) -> tuple[int, int]:
    return next((c for c in clauses if c[0] <= pos < c[1]), (pos, pos + 1))


def _amount_grants(s: str, clause: tuple[int, int]) -> list[int]:
    """Amounts granted ("奖励20万元", "给予最高10万元"), not thresholds ("500万元以下企业", "不超过50%")."""
    out = []
    for m in _AMOUNT.finditer(s, *clause):
        before = s[clause[0] : m.start()]
        after = s[m.end() : clause[1]]
        rate = re.search(r"费率|利率|保费", s[max(clause[0], m.start() - 8) : m.start()])
        if _THRESHOLD_AFTER.match(after) and not rate:
            continue
        if (
            re.search(
                r"不超过|不低于|超过|达到|占比|比重|增长|增速", s[max(clause[0], m.start() - 4) : m.start()]
            )
            and not rate
        ):
            continue
        if _GRANT_BEFORE.search(before) or _GRANT_AFTER.match(after) or rate:
            out.append(m.start())
    return out


# Grants without a benefit word: a service, support or treatment addressed to named firms.
_SUPPORT = re.compile(
    r"(?<!金融)(?<!资金)(?<!政策)(?<!财政)(?<!信贷)(?<!技术)(?<!智力)(?<!给予)(?<!提供)"  # not the noun "金融支持"
    r"(?:支持|鼓励|引导|帮助|扶持|激励|助力|帮扶|指导)(?!力度|政策|资金|方式|范围|体系|措施|作用|机制)"
)
_TREAT = re.compile(r"实施|实行|开展|予以|落实|推行|提供")
_SANCTION = re.compile(r"处罚|惩戒|查处|曝光|整改|问责|约谈|淘汰|关停|限制|检查|清理|注销")
_FOR_PROVIDE = re.compile(r"(?:为|向)([^，,；;。]{1,40}?)提供(?!的)")  # not "机构向企业提供的服务"
_ENLIST = re.compile(r"将([^，,；;。]{1,40}?)纳入[^，,；;。]{0,20}?(?:名单|库|范围|目录|清单)")
_MAY = re.compile(r"(?:(?<!\s)\s++)?(?:均可|可以|可|允许|准予|一律)")  # spaces taken from where their run starts
_RAISE = re.compile(
    r"(?:担保|补贴|补助|奖励|奖补|扣除|返还|贷款|授信|贴息|预付款)(?:比例|额度|标准|上限|期限)"
    r"[^，,；;。]{0,12}?(?:提高|提升|上调|放宽|延长)"
    r"|(?:提高|提升|上调|放宽|延长)[^，,；;。]{0,4}?(?:担保|补贴|补助|奖励|奖补|扣除|返还|贷款|授信|贴息|预付款)"
    r"(?:比例|额度|标准|上限|期限)"
)
_SUPPORT_REACH = 25  # characters after a support verb in which it must name its object


def _first_entity(entities: list[tuple[int, int, str, list[Term]]], lo: int, hi: int) -> str:
    """The kind of the first named beneficiary in s[lo:hi]: "enterprise" | "other" | ""."""
    inside = [e for e in entities if lo <= e[0] < hi]
    return inside[0][3][0][1] if inside else ""


@lru_cache(maxsize=8192)
def _grants(s: str) -> tuple[_Grant, ...]:
    """Every grant of a sentence (Simplified): strong words, 降低 + an object, 给予 + a benefit, granted amounts;
    and the grants that name no benefit word: "支持/鼓励…企业…", "为…企业提供…", "对…企业实施…", "将…企业纳入…名单",
    "…企业…的，可…", "给予…企业…", a raised ratio or quota ("担保比例…提高至8%")."""
    rules = _rules()
    clauses = _clauses(s)
    entities = scan_terms(s, rules["entities"])
    positions = {m.start() for m in rules["strong_re"].finditer(s)}
    forced: dict[int, str] = {}  # grants whose beneficiary the pattern itself names
    for m in re.finditer("降低", s):
        obj = [s.find(o, m.end(), m.end() + 12) for o in rules["lowering"]]
        obj = [i for i in obj if i >= 0]
        if obj:
            positions.add(m.start())
            who = _first_entity(entities, m.end(), min(obj))  # "降低陶瓷企业用气成本": whose cost
            if who:
                forced[m.start()] = who
    positions |= {m.start() for m in _GIVE_OBJECT.finditer(s)}
    for m in _RAISE.finditer(s):
        positions.add(m.start())
    for clause in clauses:
        positions |= set(_amount_grants(s, clause))
    for m in _SUPPORT.finditer(s):
        clause = _clause_of(clauses, m.start())
        who = _first_entity(entities, m.end(), min(clause[1], m.end() + _SUPPORT_REACH))
        if who:
            forced.setdefault(m.start(), who)
    for m in re.finditer("给予", s):
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
    for m in _TREAT.finditer(s):
        if _SANCTION.search(s, m.end(), m.end() + 12) or m.start() in positions:
            continue
        clause = _clause_of(clauses, m.start())
        dui = [d.start() for d in _DUI.finditer(s, max(0, m.start() - 40), m.start())]
        if dui and not re.search(r"[。；;]", s[dui[-1] : m.start()]):
            who = _beneficiary(s, m.start(), clause, entities)
            if who == "enterprise":
                forced.setdefault(m.start(), who)
    for i, (a, b) in enumerate(clauses[:-1]):
        nxt = clauses[i + 1]
        if s[a:b].rstrip().endswith("的") and _MAY.match(s, nxt[0]):
            if _first_entity(entities, a, b) == "enterprise" or any(
                a <= e[0] < b and e[3][0][1] == "enterprise" for e in entities
            ):
                forced.setdefault(nxt[0], "enterprise")  # "个体工商户转型…的，可以…"
    grants = []
    for pos in sorted(positions | set(forced)):
        if any(
            s[max(0, pos - 8) : pos].endswith(w) or w in s[max(0, pos - 8) : pos] for w in rules["negative"]
        ):
            continue
        clause = _clause_of(clauses, pos)
        own = any(clause[0] <= e[0] < pos and e[3][0][1] == "enterprise" for e in entities)
        own = own or forced.get(pos) == "enterprise"  # the pattern named the firm within the clause
        who = forced.get(pos) or _beneficiary(s, pos, clause, entities)
        grants.append(_Grant(pos, clause, who, own))
    return tuple(grants)


# 对 introducing a beneficiary ("对首次“小升规”企业…"), not 应对/针对/对接, nor an object after 降低/加强/加大….
_DUI = re.compile(
    r"(?<![针面相绝核应反比一])(?<!降低)(?<!加强)(?<!加大)(?<!强化)(?<!提高)(?<!减少)(?<!放宽)对(?![接外标比照象应其口话称])"
)
_PHRASE_END = re.compile(r"给予|予以|提供|实施|按(?![期时])|分别|[，,；;。]")


def _beneficiary(
    s: str, pos: int, clause: tuple[int, int], entities: list[tuple[int, int, str, list[Term]]]
) -> str:
    """ "enterprise" | "other" | "": the object of 给予, else the head of the 对-phrase, else the nearest noun."""
    give = s.rfind("给予", clause[0], pos + 2)
    if give >= 0:
        for start, _, _, entries in entities:
            if start == give + 2:
                return entries[0][1]
    dui = [m.start() for m in _DUI.finditer(s, 0, pos)]
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


def is_measure(s: str) -> bool:
    """A sentence (Simplified) that grants something to enterprises and is not a target or a statistic."""
    body = _LABEL.sub("", s)
    if any(p.search(body) for p in _rules()["exclude"]):
        return False
    return any(g.who != "other" for g in _grants(body))


_LABEL = re.compile(r"^(?:全市目标|全市目標|落实举措|落實舉措|主要做法和成效)[：:]\s*")
_DEPT_TAIL = re.compile(
    r"(?:(?<!\s)\s++)?[(（](?:(?:责任单位|責任單位|牵头单位|牽頭單位)[:：][^()（）]*|[^()（）]*(?:牵头负责|牽頭負責))[)）][。.；;]?\s*$"
)


def _sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of a chunk text, verbatim."""
    spans: list[tuple[int, int]] = []
    cursor = 0
    for sent in split_sentences(text):
        start = text.find(sent, cursor)
        if start < 0:
            continue
        spans.append((start, start + len(sent)))
        cursor = start + len(sent)
    return spans


def _segments(s: str) -> list[tuple[int, int]]:
    """Parts of a measure sentence that are measures of their own.

    A list sentence ("小规模纳税人减免增值税，小微企业减按25%…，个体工商户减半征收…") grants different things to
    different firms: each clause that names its own beneficiary starts a measure. Otherwise the sentence is one.
    """
    starts = sorted({g.clause[0] for g in _grants(s) if g.who != "other" and g.own_entity})
    if len(starts) < 2:
        return [(0, len(s))]
    bounds = [0, *starts[1:], len(s)]
    return [
        (a, b - 1 if i < len(bounds) - 2 else b)
        for i, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False))
    ]


def _condition_text(s: str) -> list[str]:
    """The clauses that say who gets what: each enterprise grant's clause, back to its 对-phrase or to the
    clause naming the firm; when none names one, the first later clause that does."""
    clauses = _clauses(s)
    entities = [e for e in scan_terms(s, _rules()["entities"]) if e[3][0][1] == "enterprise"]
    spans: list[tuple[int, int]] = []
    for g in _grants(s):
        if g.who == "other":
            continue
        i = clauses.index(g.clause) if g.clause in clauses else 0
        start = g.clause[0]
        dui = [m.start() for m in _DUI.finditer(s, 0, g.pos)]
        if dui and g.pos - dui[-1] < 120:
            start = min(start, next(c[0] for c in clauses if c[0] <= dui[-1] < c[1] + 1))
        else:
            for back in range(i, max(-1, i - 3), -1):
                start = clauses[back][0]
                if any(
                    clauses[back][0] <= e[0] < (g.pos if back == i else clauses[back][1]) for e in entities
                ):
                    break
        spans.append((start, g.clause[1]))
    if spans and not any(a <= e[0] < b for a, b in spans for e in entities):
        later = [
            c
            for c in clauses
            if c[0] >= max(b for _, b in spans) and any(c[0] <= e[0] < c[1] for e in entities)
        ]
        spans += later[:1]
    merged: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return [s[a:b] for a, b in merged]


def _benefit(s: str) -> str:
    """The grant phrases of a measure (Simplified): "首年奖励20万元；奖励10万元"."""
    entities = scan_terms(s, _rules()["entities"])
    phrases: list[str] = []
    seen: set[tuple[int, int]] = set()
    for g in _grants(s):
        if g.who == "other" or g.clause in seen:
            continue
        seen.add(g.clause)
        lo = g.clause[0]
        cuts = [lo] + [e[1] for e in entities if lo <= e[0] and e[1] <= g.pos]
        cuts += [
            s.rfind(w, lo, g.pos) + len(w)
            for w in ("给予", "提供", "的", "对其")
            if s.rfind(w, lo, g.pos) >= 0
        ]
        phrase = s[max(cuts) : g.clause[1]].strip().lstrip("”、")
        if phrase.count("”") > phrase.count("“"):
            phrase = phrase.rstrip("”")
        if len(phrase) > 40:
            phrase = phrase[:40] + "…"
        if phrase and phrase not in phrases:
            phrases.append(phrase)
    return "；".join(phrases[:4])


_DEPT = re.compile(r"(?:责任单位|責任單位|牵头单位|牽頭單位)[：:]\s*\*?([^；;\n)）]+)")
_DEPT_LEAD = re.compile(r"[(（]([^()（）]{2,120}?)(?:牵头负责|牽頭負責)[)）]")


def _department_markers(text: str) -> list[tuple[int, str]]:
    """(offset, department) of every 责任单位 / 牵头单位 / "…牵头负责" note of a document."""
    found = [(m.start(), m.group(1)) for m in _DEPT.finditer(text)]
    found += [(m.start(), m.group(1)) for m in _DEPT_LEAD.finditer(text)]
    out = []
    for pos, raw in sorted(found):
        dept = to_simplified(raw).strip().lstrip("*").replace("<", "（").replace(">", "）").strip("，,。 ")
        out.append((pos, dept))
    return out


_NUMBERING = re.compile(
    r"^\s*(?:序号\s*\d+\s*)?(?:[（(][一二三四五六七八九十百\d]+[)）]|[一二三四五六七八九十百]+[、.．]|\d+\s*[.、．](?!\d))\s*"
)
_PRACTICE_HEAD = re.compile(r"^典型做法\s*第\s*\d+\s*项\s*")
_ITEM_START = re.compile(r"(?:^|(?<=[\s：:；;。]))\d+\s*[.、．](?!\d)\s*")


def measure_title(md: dict[str, Any], text: str, offset: int) -> str:
    """The item heading; a table row's 重点工作 (with its numbered sub-item's head); a practice's name and city."""
    last = str(md.get("section", "")).split(" > ")[-1].strip()
    kind = md.get("kind", "text")
    if kind == "practice":
        name = _PRACTICE_HEAD.sub("", last)
        city = str(md.get("city", ""))
        return f"{name}（{city}）" if city else name
    title = _NUMBERING.sub("", last) or last
    if kind == "table_row":
        items = [m for m in _ITEM_START.finditer(text) if m.start() <= offset]
        if items:
            head = re.match(r"([^。；;，,：:]{2,24})。", text[items[-1].end() :])
            if head:
                title = f"{title} › {head.group(1)}"
    return title


def _section_spans(catalog: Any) -> dict[tuple[str, str], tuple[int, int]]:
    spans: dict[tuple[str, str], tuple[int, int]] = {}
    for nid in catalog.node_ids:
        md = catalog.nodes[nid].metadata
        key = (md["doc_id"], md.get("section", ""))
        start, end = int(md["start"]), int(md["end"])
        lo, hi = spans.get(key, (start, end))
        spans[key] = (min(lo, start), max(hi, end))
    return spans


def _is_heading_sentence(sentence: str, section: str) -> bool:
    """The item's own title line ("18.降低制度性交易成本。"), which repeats the section heading."""
    body = sentence.strip().rstrip("。.")
    return bool(_NUMBERING.match(body)) and len(body) <= 40 and body in section


# A target or outlook appended to a measure ("…进行培育,到2025年力争新增20家…", "…,每年新建20家左右"): the
# measure ends before the first clause that states one and grants nothing.
_TARGET_MARK = re.compile(r"(?:到|至)20\d\d年|力争|争取到|(?<!\d)\d+\s*+(?:家|项)(?:以上|左右)(?!的)")
_PRACTICE_SKIP = re.compile(r"^\s*(?:序号|名称|来源)")


def _target_cut(simp: str) -> int:
    for a, b in _clauses(simp)[1:]:
        if a > 1 and _TARGET_MARK.search(simp, a, b):
            if not any(g.who != "other" for g in _grants(simp[a:])):
                return a - 1
            break
    return len(simp)


def _practice_lead(sentence: str, city: str, after_label: bool) -> bool:
    """The sentence that states a practice ("青岛市：创新专利权质押保险贷款。"): each practice is a measure of
    the typical-practice collection, even when it names no grant word."""
    body = search_form(_LABEL.sub("", sentence)).strip()
    if not body or _PRACTICE_SKIP.match(body):
        return False
    return after_label or bool(_LABEL.match(sentence)) or bool(city and body.startswith(city + "："))


def _runs(text: str, section: str, city: str = "", practice: bool = False) -> list[tuple[int, int]]:
    """Measure spans of a chunk: measure sentences (or their self-contained parts), a continuation joined;
    in a typical-practice chunk only the sentence stating the practice (an example is one practice)."""
    cont = _rules()["continuation"]
    runs: list[tuple[int, int]] = []
    prev_end = -1
    lead_open = practice  # the practice's own sentence is still to come
    after_label = False
    for start, end in _sentences(text):
        sentence = text[start:end]
        simp = search_form(sentence)
        cut = _target_cut(simp) if len(simp) == len(sentence) else len(simp)
        lead = lead_open and _practice_lead(sentence, city, after_label)
        after_label = bool(_LABEL.fullmatch(sentence.strip()))
        if lead:
            lead_open = False
        elif practice:  # one measure per practice: the sentence that states it
            continue
        if _is_heading_sentence(sentence, section) or not (lead or is_measure(simp[:cut])):
            prev_end = -1
            continue
        label = _LABEL.match(sentence)
        a = label.end() if label else 0
        tail = _DEPT_TAIL.search(sentence, a)
        b = min(tail.start() if tail else len(sentence), cut)
        b = a + len(sentence[a:b].rstrip("，,；; "))
        if lead:  # one practice, one measure (its clauses are not separate grants)
            runs.append((start + a, start + b))
            prev_end = end
            continue
        parts = _segments(simp[a:b]) if len(simp) == len(sentence) else [(0, b - a)]
        if len(parts) == 1 and runs and prev_end == start and simp.startswith(cont):
            if len(text[runs[-1][0] : start + b]) < 260:
                runs[-1] = (runs[-1][0], start + b)
                prev_end = end
                continue
        for pa, pb in parts:
            piece = (start + a + pa, start + a + pb)
            if piece[1] > piece[0] and is_measure(search_form(text[piece[0] : piece[1]])):
                runs.append(piece)
        prev_end = end
    return runs


def _residuals(s: str) -> list[Condition]:
    """Unknown-word conditions of the 对-phrases naming a grant's beneficiary ("对新获得…质量奖的")."""
    m = vocabulary().measures
    filler = sorted((search_form(w) for w in m["filler"]), key=len, reverse=True)
    out: list[Condition] = []
    for g in _grants(s):
        if g.who == "other":
            continue
        dui = [d.start() for d in _DUI.finditer(s, 0, g.pos) if g.pos - d.start() < 120]
        if not dui:
            continue
        d = dui[-1]
        end = _PHRASE_END.search(s, d + 1)
        phrase = s[d + 1 : min(end.start() if end else len(s), g.pos)].strip().removeprefix("于")
        rest = phrase
        known = [(a, b) for a, b, _, _ in scan_terms(phrase, _measure_terms())]
        known += [(pos, pos + len(c.text)) for pos, c in _numeric_conditions(phrase)]
        for a, b in sorted(known, reverse=True):
            rest = rest[:a] + " " * (b - a) + rest[b:]
        for word in filler:
            rest = rest.replace(word, " ")
        left = re.sub(r"[^\u4e00-\u9fff]", "", rest)
        text = phrase.rstrip("的")
        if len(left) >= int(m["min_residual"]) and all(c.text != text for c in out):
            out.append(Condition("qualification", "other", text))
    return out


_PLACE_ONLY = re.compile(r"^[\u4e00-\u9fff]{2,8}(?:市|县|区|州|盟|旗)$")


def _stated_clause(s: str) -> str:
    """What a practice that names no grant states: its first clause after the city ("温州市：建立小微企业
    “首贷”统计网络，…" -> "建立小微企业“首贷”统计网络"); the rest tells how and why, often by contrast."""
    for a, b in _clauses(s):
        if not _PLACE_ONLY.match(s[a:b].strip()):
            return s[a:b]
    return s


def _read_measure_conditions(simp: str, heading: list[Condition], practice: bool = False) -> tuple[Condition, ...]:
    """Conditions of the clauses saying who gets what; of a practice, those of the clause stating it."""
    conds: list[Condition] = []
    parts = [_stated_clause(simp)] if practice else _condition_text(simp) or [_stated_clause(simp)]
    for part in parts:
        for c in read_conditions(part):
            if all((c.kind, c.key, c.text) != (d.kind, d.key, d.text) for d in conds) and not (
                not c.members and any((c.kind, c.key) == (d.kind, d.key) for d in conds)
            ):
                conds.append(c)
    return _with_heading(conds + _residuals(simp), heading)


def extract_measures(catalog: Any) -> list[Measure]:
    """Every measure of the index build, in document order.

    A measure is a sentence of a chunk that grants something to enterprises (a grant word, "降低" + a cost, an
    amount after 给予/奖励…, or a support or service addressed to named firms: "支持/鼓励…企业…", "为…企业提供…",
    "对…企业实施…", "…企业…的，可…"), is not a target or a statistic (a target appended to a measure is cut
    off), and does not go to a bank, an agency or a person; in the collection of typical practices, each
    practice is one measure (the sentence that states it); a continuation sentence ("连续3年的,再给予…") joins
    the one before, and a list sentence whose clauses each name their own beneficiary ("小规模纳税人减免…，
    小微企业减按…") is split into one measure per clause. Its conditions are read by rules, with the vocabulary
    of ``data/eligibility.toml``, from the clauses that say who gets the grant, plus the item heading for kinds
    the sentence leaves open; what a beneficiary phrase says beyond the vocabulary ("对新获得…质量奖的")
    becomes a condition that stays unknown.
    """
    docs = {d.doc_id: d for d in catalog.documents}
    spans = _section_spans(catalog)
    markers = {doc_id: _department_markers(catalog.cleaned_text(doc_id)) for doc_id in docs}
    out: list[Measure] = []
    for position, nid in enumerate(catalog.node_ids):
        node = catalog.nodes[nid]
        md = node.metadata
        doc = docs.get(md["doc_id"])
        if doc is None:
            continue
        text = node.get_content()
        base = int(md["start"])
        section = str(md.get("section", ""))
        heading = search_form(_PRACTICE_HEAD.sub("", _NUMBERING.sub("", section.split(" > ")[-1])))
        heading_conds = read_conditions(heading)
        sec_lo, sec_hi = spans[(md["doc_id"], section)]
        juris = to_simplified(doc.jurisdiction)
        city = to_simplified(str(md.get("city", "")))
        for a, b in _runs(text, section, city, md.get("kind") == "practice"):
            simp = search_form(text[a:b])
            start, end = base + a, base + b
            dept = next((d for pos, d in markers[doc.doc_id] if start <= pos < sec_hi and pos >= sec_lo), "")
            out.append(
                Measure(
                    measure_id=f"{doc.doc_id}:{start}-{end}",
                    title=measure_title(md, text, a),
                    text=text[a:b],
                    doc_id=doc.doc_id,
                    node_id=nid,
                    city=to_simplified(str(md.get("city", ""))),
                    national=juris == NATIONAL,
                    juris_parts=tuple(p for p in juris.split("/") if p),
                    benefit=_benefit(simp),
                    department=dept,
                    conditions=_read_measure_conditions(simp, heading_conds, md.get("kind") == "practice"),
                    order=(position, a),
                )
            )
    return out


_cache: dict[str, list[Measure]] = {}
_cache_lock = threading.Lock()
_CACHED_BUILDS = 4


def measures_for(catalog: Any) -> list[Measure]:
    """The measures of a catalog's build, extracted once per build id (the last few builds are kept)."""
    with _cache_lock:
        found = _cache.get(catalog.build_id)
        if found is None:
            found = _cache[catalog.build_id] = extract_measures(catalog)
            while len(_cache) > _CACHED_BUILDS:
                _cache.pop(next(iter(_cache)))
        return found
