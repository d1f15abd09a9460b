"""The eligibility check ("政策找人"): which measures of the corpus apply to one enterprise, and why.

A measure is a sentence of a chunk that grants something to enterprises (a grant word, "降低" + a cost, an
amount after 给予/奖励…, or a support or service addressed to named firms: "支持/鼓励…企业…", "为…企业提供…",
"对…企业实施…", "…企业…的，可…"), is not a target or a statistic (a target appended to a measure is cut off),
and does not go to a bank, an agency or a person; in the collection of typical practices, each practice is one
measure (the sentence that states it);
a continuation sentence ("连续3年的,再给予…") joins the one before, and a list sentence whose clauses each
name their own beneficiary ("小规模纳税人减免…，小微企业减按…") is split into one measure per clause.
Its conditions are read by rules, with the vocabulary of ``data/eligibility.toml``, from the clauses that say
who gets the grant, plus the item heading for kinds the sentence leaves open; what a beneficiary phrase
says beyond the vocabulary ("对新获得…质量奖的") becomes a condition that stays unknown. All this is done
once per index build.

Each profile is then checked: met, not met, or unknown when the profile does not say (never guessed).
符合 = every condition met (and at least one besides the place); 可能符合 = none failed, some unknown;
不符合 = one failed. Documents count when they are of the firm's own place (本地) or a parent (上级); the
national collection of typical practices is listed as examples from other cities (全国典型做法): its place
condition is always unknown, so it is never better than 可能符合, and it is listed only when one of its
conditions on what the firm is or plans (qualification, plan, industry, figures) is met -- unless the profile
states none of these.
"""

from __future__ import annotations

import csv
import io
import re
import threading
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

from llama_index.core.schema import NodeWithScore

from assistant.answers import Citation
from assistant.citing import split_sentences
from assistant.profiles import SIZE_CLASSES, Profile, ProfileError, Term, field_label, scan_terms, vocabulary
from assistant.query import NATIONAL, UNKNOWN
from assistant.text import search_form, to_simplified

__all__ = [
    "ConditionCheck",
    "MatchResult",
    "MeasureMatch",
    "Profile",
    "ProfileError",
    "match",
    "measures_for",
]

MET, NOT_MET, UNKNOWN_STATUS = "met", "not_met", "unknown"
FITS, MAY_FIT, NO_FIT = "符合", "可能符合", "不符合"
LOCAL, PARENT, EXAMPLE = "本地", "上级", "全国典型做法"
_STATUS_RANK = {FITS: 0, MAY_FIT: 1, NO_FIT: 2}
_SCOPE_RANK = {LOCAL: 0, PARENT: 1, EXAMPLE: 2}
_MARK = {MET: "✓", NOT_MET: "✗", UNKNOWN_STATUS: "?"}


# --------------------------------------------------------------------------------------------------------
# Public results
# --------------------------------------------------------------------------------------------------------


@dataclass
class ConditionCheck:
    kind: str  # "qualification" | "size" | "revenue" | "employees" | "age" | "tax_credit" | "plan" | ...
    text: str  # the condition as the document words it, e.g. "首次“小升规”"
    status: str  # "met" | "not_met" | "unknown"
    reason: str  # Chinese, short: why

    def label(self) -> str:
        return f"{_MARK.get(self.status, '?')} {self.text}"


@dataclass
class MeasureMatch:
    measure_id: str  # stable: f"{doc_id}:{start}-{end}" (offsets in the cleaned document)
    title: str  # short name: the item heading / 重点工作 / practice name (city)
    text: str  # the measure sentence(s), verbatim from the chunk
    doc_id: str
    doc_title: str
    jurisdiction: str
    date: str
    scope: str  # "本地" | "上级" | "全国典型做法"
    status: str  # "符合" | "可能符合" | "不符合"
    conditions: list[ConditionCheck]
    benefit: str  # amount / ratio / form; "" when the text names no concrete benefit
    department: str  # 责任单位 / 牵头单位 where the document names one, else ""
    citation: Citation  # quote == text

    def conditions_text(self, sep: str = "；") -> str:
        return sep.join(f"{c.label()}（{c.reason}）" for c in self.conditions)


@dataclass
class MatchResult:
    profile: Profile
    location_path: str  # resolved jurisdiction path, e.g. "浙江省/温州市/乐清市" ("" when unknown)
    measures: list[MeasureMatch] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out = {FITS: 0, MAY_FIT: 0, NO_FIT: 0}
        for m in self.measures:
            out[m.status] = out.get(m.status, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile.to_dict(),
            "location_path": self.location_path,
            "counts": self.counts(),
            "measures": [asdict(m) for m in self.measures],
            "notes": list(self.notes),
        }

    def to_markdown(self) -> str:
        """A readable Chinese list: one block per measure with ✓/✗/? conditions, benefit, department, source."""
        counts = self.counts()
        lines = [f"**企业画像**：{self.profile.describe()}"]
        if self.location_path:
            lines.append(f"**所在地**：{self.location_path}")
        summary = f"共 {len(self.measures)} 条措施：符合 {counts[FITS]} 条，可能符合 {counts[MAY_FIT]} 条"
        if counts[NO_FIT]:
            summary += f"，不符合 {counts[NO_FIT]} 条"
        lines += ["", summary + "。"]
        lines += [f"> {note}" for note in self.notes]
        if not self.measures:
            lines += ["", "没有找到适用的措施。"]
        for i, m in enumerate(self.measures, start=1):
            lines += ["", f"### {i}. 【{m.status}】{m.title}（{m.scope} · {m.jurisdiction}）"]
            lines.append(f"- 措施：{m.text}")
            if m.conditions:
                lines.append("- 条件：")
                lines += [f"  - {c.label()}（{c.reason}）" for c in m.conditions]
            lines.append(f"- 优惠：{m.benefit or '原文未写明具体金额或比例'}")
            if m.department:
                lines.append(f"- 责任单位：{m.department}")
            lines.append(f"- 出处：[{m.citation.n}] {m.citation.label()}")
        return "\n".join(lines)

    def to_csv(self) -> str:
        """CSV text for Excel (the caller adds a BOM when writing a file): one row per measure."""
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(
            [
                "序号",
                "状态",
                "范围",
                "措施",
                "条件",
                "优惠",
                "责任单位",
                "地区",
                "文件",
                "出处",
                "原文",
                "措施编号",
            ]
        )
        for i, m in enumerate(self.measures, start=1):
            writer.writerow(
                [
                    i,
                    m.status,
                    m.scope,
                    m.title,
                    m.conditions_text("\n"),
                    m.benefit,
                    m.department,
                    m.jurisdiction,
                    m.doc_title,
                    m.citation.label(),
                    m.text,
                    m.measure_id,
                ]
            )
        return buf.getvalue()


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


_AMOUNT = re.compile(r"(?:\d+(?:\.\d+)?|[一二两三四五六七八九十百千]+)\s*(?:万元|亿元|元|%|‰|倍|万)")
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
_MAY = re.compile(r"\s*(?:均可|可以|可|允许|准予|一律)")
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
    r"\s*[(（](?:(?:责任单位|責任單位|牵头单位|牽頭單位)[:：][^()（）]*|[^()（）]*(?:牵头负责|牽頭負責))[)）][。.；;]?\s*$"
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


def _title(md: dict[str, Any], text: str, offset: int) -> str:
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
_TARGET_MARK = re.compile(r"(?:到|至)20\d\d年|力争|争取到|\d+\s*(?:家|项)(?:以上|左右)(?!的)")
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
    """Every measure of the index build, in document order."""
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
                    title=_title(md, text, a),
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


# --------------------------------------------------------------------------------------------------------
# Checking a profile
# --------------------------------------------------------------------------------------------------------


def _fmt(value: float) -> str:
    return f"{value:g}"


def _check(c: Condition, p: Profile, facts: set[str]) -> tuple[str, str]:
    """(status, reason) of one condition for one profile."""
    if c.key == "other":
        return UNKNOWN_STATUS, "原文条件，规则无法判断，请对照原文核实"
    if c.key == "all":  # words of one alternative written together: every one must hold
        results = [(m, *_check(m, p, facts)) for m in c.members]
        failed = [r for r in results if r[1] == NOT_MET]
        if failed:
            return NOT_MET, f"不满足“{failed[0][0].text}”：{failed[0][2]}"
        if all(st == MET for _, st, _ in results):
            return MET, "；".join(r for _, _, r in results)
        return UNKNOWN_STATUS, "；".join(f"{m.text}：{r}" for m, st, r in results if st == UNKNOWN_STATUS)
    if c.members:
        results = [(m, *_check(m, p, facts)) for m in c.members]
        if any(s == MET for _, s, _ in results):
            m, _, reason = next(r for r in results if r[1] == MET)
            return MET, f"满足其中“{m.text}”：{reason}"
        if all(s == NOT_MET for _, s, _ in results):
            return NOT_MET, "均不满足：" + "；".join(r for _, _, r in results)
        return UNKNOWN_STATUS, "；".join(f"{m.text}：{r}" for m, s, r in results if s == UNKNOWN_STATUS)
    checker = _CHECKERS[c.kind]
    return checker(c, p, facts)


def _check_qualification(c: Condition, p: Profile, facts: set[str]) -> tuple[str, str]:
    spec = vocabulary().qualifications[c.key]
    if c.key in facts:
        return MET, f"企业画像：{c.key}"
    for alt in spec.met_when:
        if all(f in facts for f in alt):
            return MET, "企业画像：" + "、".join(f.replace("plan:", "计划") for f in alt)
    if f"非{c.key}" in facts:
        return NOT_MET, f"企业画像注明非{c.key}"
    blocking = [q for q in spec.excluded_by if q in facts]
    if blocking:
        return NOT_MET, f"企业画像为{blocking[0]}，不是{c.key}"
    threshold = spec.revenue_at_least.get(p.sector())
    if threshold is not None and p.revenue is not None and p.industry:
        ok = p.revenue >= threshold
        return (
            MET if ok else NOT_MET
        ), f"年营业收入{_fmt(p.revenue)}万元，{p.sector()}{c.key}标准为{_fmt(threshold)}万元"
    for alt in spec.met_when:  # 小升规: a 规下 firm that has not said it is going up
        known = [f for f in alt if f in facts]
        if known:
            return UNKNOWN_STATUS, f"企业为{known[0]}，未说明是否" + "、".join(
                f.replace("plan:", "计划") for f in alt if f not in facts
            )
    if p.qualifications_complete:  # the profile lists all it holds: what it does not list, it is not
        return NOT_MET, f"企业画像列出的资质中没有{spec.label}"
    return UNKNOWN_STATUS, f"企业画像未说明是否为{spec.label}"


def _check_plan(c: Condition, p: Profile, facts: set[str]) -> tuple[str, str]:
    spec = vocabulary().plans[c.key]
    if c.key in p.plans:
        return MET, f"企业计划{c.key}"
    held = [q for q in spec.met_by_qualifications if q in facts]
    if held:
        return MET, f"企业画像：{held[0]}"
    groups = p.industry_groups()
    if any(g in spec.met_by_industry for g in groups):
        return MET, f"企业行业：{p.industry}"
    return UNKNOWN_STATUS, f"企业画像未说明是否有{c.key}计划"


def _check_size(c: Condition, p: Profile, facts: set[str]) -> tuple[str, str]:
    term = vocabulary().size_terms[int(c.key)]
    if term.max_employees is not None:
        if p.employees is not None and p.employees > term.max_employees:
            return NOT_MET, f"员工{p.employees}人，超过{term.max_employees}人"
        return (
            UNKNOWN_STATUS,
            f"需从业人数不超过{term.max_employees}人且资产、应纳税所得额达标，画像不足以判断",
        )
    if "个体工商户" in facts:
        return UNKNOWN_STATUS, "个体工商户不按企业规模划型"
    if p.employees is None and p.revenue is None:
        return UNKNOWN_STATUS, "企业画像未说明员工人数和营业收入"
    lo, hi = p.size_range()
    allowed = {SIZE_CLASSES.index(k) for k in term.classes}
    possible = set(range(lo, hi + 1))
    sector = p.sector()
    if lo == hi:
        label = f"按{sector}标准为{SIZE_CLASSES[lo]}企业"
    else:
        label = f"按{sector}标准为{SIZE_CLASSES[lo]}至{SIZE_CLASSES[hi]}企业"
    if possible <= allowed:
        return MET, label
    if not possible & allowed:
        return NOT_MET, label
    return UNKNOWN_STATUS, label + "，需补充员工人数或营业收入"


def _check_range(value: float | None, c: Condition, unit: str, what: str, field: str) -> tuple[str, str]:
    if value is None:
        return UNKNOWN_STATUS, f"企业画像未说明{field}"
    shown = f"{what}{_fmt(value)}{unit}"
    if c.low is not None and value < c.low:
        return NOT_MET, f"{shown}，低于{_fmt(c.low)}{unit}"
    if c.high is not None and value > c.high:
        return NOT_MET, f"{shown}，超过{_fmt(c.high)}{unit}"
    return MET, shown


def _check_revenue(c: Condition, p: Profile, facts: set[str]) -> tuple[str, str]:
    return _check_range(p.revenue, c, "万元", "年营业收入", "年营业收入")


def _check_employees(c: Condition, p: Profile, facts: set[str]) -> tuple[str, str]:
    return _check_range(p.employees, c, "人", "员工", "员工人数")


def _check_age(c: Condition, p: Profile, facts: set[str]) -> tuple[str, str]:
    status, reason = _check_range(p.age_years, c, "年", "成立", "成立年限")
    if c.key != "age" and status != UNKNOWN_STATUS:  # a word such as 初创: say how it is read
        reason += f"（“{c.key}”按{_fmt(c.high or 0)}年以内计）"
    return status, reason


def _check_tax(c: Condition, p: Profile, facts: set[str]) -> tuple[str, str]:
    if not p.tax_credit:
        return UNKNOWN_STATUS, "企业画像未说明纳税信用等级"
    if p.tax_credit in c.grades:
        return MET, f"纳税信用{p.tax_credit}级"
    return NOT_MET, f"纳税信用{p.tax_credit}级，要求{'或'.join(c.grades)}级"


def _check_industry(c: Condition, p: Profile, facts: set[str]) -> tuple[str, str]:
    v = vocabulary()
    spec = v.industries[c.key]
    held = [q for q in spec.qualifications if q in facts]
    if held:
        return MET, f"企业画像：{held[0]}"
    if not p.industry:
        return UNKNOWN_STATUS, "企业画像未说明行业"
    groups = p.industry_groups()
    if not groups:
        return UNKNOWN_STATUS, f"行业“{p.industry}”不在词表中，无法判断"
    if any(c.key in v.ancestors(g) for g in groups):
        return MET, f"企业行业：{p.industry}"
    if spec.open or any(g in v.ancestors(c.key) for g in groups):
        return UNKNOWN_STATUS, f"企业行业“{p.industry}”，未说明是否属于{c.key}"
    return NOT_MET, f"企业行业“{p.industry}”，不属于{c.key}"


def _check_ownership(c: Condition, p: Profile, facts: set[str]) -> tuple[str, str]:
    rule = vocabulary().ownership_conditions[c.key]
    if not p.ownership:
        return UNKNOWN_STATUS, "企业画像未说明所有制"
    if p.ownership in rule["met"]:
        return MET, f"企业为{p.ownership}企业"
    if p.ownership in rule["not_met"]:
        return NOT_MET, f"企业为{p.ownership}企业，不是{c.key}企业"
    return UNKNOWN_STATUS, f"{p.ownership}企业是否算{c.key}企业，需向主管部门确认"


_CHECKERS = {
    "qualification": _check_qualification,
    "plan": _check_plan,
    "size": _check_size,
    "revenue": _check_revenue,
    "employees": _check_employees,
    "age": _check_age,
    "tax_credit": _check_tax,
    "industry": _check_industry,
    "ownership": _check_ownership,
}


def _status(checks: list[ConditionCheck]) -> str:
    """不符合 if any condition fails; 符合 only when all are met and at least one is more than the place."""
    if any(c.status == NOT_MET for c in checks):
        return NO_FIT
    if any(c.status == UNKNOWN_STATUS for c in checks):
        return MAY_FIT
    return FITS if any(c.kind != "location" for c in checks) else MAY_FIT


# --------------------------------------------------------------------------------------------------------
# Location
# --------------------------------------------------------------------------------------------------------


@dataclass
class _Place:
    path: tuple[str, ...]  # resolved jurisdiction path, the profile's own place last
    known: bool  # the leaf is a place of the corpus
    name: str  # what to call the place in notes


_SUB_PLACE = re.compile(r"^[\u4e00-\u9fff]{1,5}(?:自治县|新区|街道|市|县|区|镇|乡|旗)")


def _resolve_place(location: str, catalog: Any) -> _Place | None:
    """The profile place as a jurisdiction path, with the corpus gazetteer; None when no location is given."""
    from assistant.retrieval import gazetteer_for

    text = search_form(location).strip()
    if not text:
        return None
    gz = gazetteer_for(catalog)
    names = gz.find(text)
    if not names:
        return _Place((), False, text)
    name = max(names, key=lambda n: len(gz.parents.get(n, [])))
    path = (*gz.parents.get(name, []), name)
    rest = _remaining_place(text, name)
    if rest:  # 温州市鹿城区: a place below the corpus's 温州市
        return _Place((*path, rest), False, rest)
    return _Place(path, True, name)


def _remaining_place(text: str, name: str) -> str:
    """A sub-place written after the known one ("温州市鹿城区" -> "鹿城区"), else ""."""
    from assistant.query import short_name

    for alias in (name, short_name(name)):
        i = text.find(alias)
        if i >= 0:
            run = re.match(r"[\u4e00-\u9fff]*", text[i + len(alias) :].strip()).group(0).split("的")[0]
            m = _SUB_PLACE.match(run[:7])  # the longest place word right after it: 柳市镇, 鹿城区
            return m.group(0) if m else ""
    return ""


def _scope(measure: Measure, place: _Place | None) -> str | None:
    """本地 / 上级 / 全国典型做法, or None when the document is of another place."""
    if measure.national:
        return EXAMPLE
    if not measure.juris_parts or measure.juris_parts[-1] == UNKNOWN:
        return None
    if place is None:
        return LOCAL  # no location stated: every place's documents, with the place condition unknown
    if not place.path:
        return None
    leaf = measure.juris_parts[-1]
    if leaf == place.path[-1]:
        return LOCAL
    if leaf in place.path[:-1]:
        return PARENT
    return None


def _distance(measure: Measure, scope: str, place: _Place | None) -> int:
    """Closer first inside a scope: the nearer parent; a practice of the firm's own city (or its parent)."""
    if place is None:
        return 0
    if scope == PARENT:
        return len(place.path) - len(measure.juris_parts)
    if scope == EXAMPLE:
        return 0 if measure.city and measure.city in place.path else 1
    return 0


def _location_check(measure: Measure, scope: str, place: _Place | None) -> ConditionCheck:
    where = "/".join(measure.juris_parts) or NATIONAL
    if scope == EXAMPLE:
        city = measure.city or "其他城市"
        own = place is not None and measure.city and measure.city in place.path
        reason = (
            f"全国典型做法，来自企业所在地{measure.city}；现行政策以当地文件为准"
            if own
            else f"全国典型做法（{city}的经验），仅供参考，本地是否有同类政策需向当地部门确认"
        )
        return ConditionCheck("location", f"{city}的做法", UNKNOWN_STATUS, reason)
    leaf = measure.juris_parts[-1]
    if place is None:
        return ConditionCheck(
            "location", f"适用地区：{leaf}", UNKNOWN_STATUS, f"企业画像未说明所在地；本文件适用于{where}"
        )
    if scope == LOCAL:
        return ConditionCheck("location", f"适用地区：{leaf}", MET, f"企业位于{leaf}")
    return ConditionCheck("location", f"适用地区：{leaf}", MET, f"企业位于{place.path[-1]}，属{leaf}")


# --------------------------------------------------------------------------------------------------------
# match()
# --------------------------------------------------------------------------------------------------------


def _catalog(settings: Any, engine: Any) -> Any:
    if engine is not None:
        return engine.retriever.catalog
    from assistant.catalog import open_catalog

    return open_catalog(settings)


def _to_profile(profile: Profile | dict | str, catalog: Any) -> Profile:
    if isinstance(profile, Profile):
        return profile
    if isinstance(profile, str):
        from assistant.retrieval import gazetteer_for

        text = search_form(profile)
        gz = gazetteer_for(catalog)
        names = gz.find(text)
        places = [max(names, key=lambda n: len(gz.parents.get(n, [])))] if names else None
        parsed = Profile.from_text(profile, places=places)
        if places:  # keep a sub-place the user wrote after it ("乐清市柳市镇" stays at 乐清市)
            rest = _remaining_place(text, places[0])
            parsed.location = places[0] + rest
        return parsed
    return Profile.from_dict(profile)


def _notes(profile: Profile, place: _Place | None, measures: list[MeasureMatch]) -> list[str]:
    notes: list[str] = []
    if place is None:
        notes.append("企业画像未说明所在地：列出各地文件的措施，适用地区一项记为未知。")
    elif not any(m.scope in (LOCAL, PARENT) for m in measures):
        notes.append(f"语料中没有{place.name}的本地文件，只列出全国典型做法。")
    elif not place.known:
        parent = place.path[-2]
        notes.append(f"语料中没有{place.name}的本地文件；列出{parent}（上级）的文件和全国典型做法。")
    if any(m.scope == EXAMPLE for m in measures):
        notes.append(
            "“全国典型做法”是国家发展改革委汇编的其他城市经验，仅供参考，不是企业可直接申请的本地政策。"
        )
    v = vocabulary()
    unknown = [q for q in profile.qualifications if q.removeprefix("非") not in v.qualifications]
    unknown += [p for p in profile.plans if p not in v.plans]
    if unknown:
        notes.append(f"以下资质或计划不在词表中，未参与判断：{'、'.join(unknown)}。")
    missing = _missing_fields(profile, measures)
    if missing:
        notes.append(f"补充以下信息可减少“未知”条件：{'、'.join(missing)}。")
    notes.append("条件由规则从原文读取，结果仅供初筛；能否享受以主管部门的解释和申报通知为准。")
    return notes


_KIND_FIELDS = {
    "size": ("employees", "revenue"),
    "revenue": ("revenue",),
    "employees": ("employees",),
    "age": ("age_years",),
    "tax_credit": ("tax_credit",),
    "industry": ("industry",),
    "ownership": ("ownership",),
}


def _missing_fields(profile: Profile, measures: list[MeasureMatch]) -> list[str]:
    needed: list[str] = []
    for m in measures:
        for c in m.conditions:
            if c.status != UNKNOWN_STATUS:
                continue
            for name in _KIND_FIELDS.get(c.kind, ()):
                if getattr(profile, name) in (None, "") and name not in needed:
                    needed.append(name)
    return [field_label(n) for n in needed]


# Conditions that make a practice of another city worth showing as an example: what the firm is or plans.
# Size and ownership are left out: the collection is about private and small firms as a whole.
_SPECIFIC_KINDS = ("qualification", "plan", "industry", "revenue", "employees", "age", "tax_credit")


def _relevant_example(checks: list[ConditionCheck]) -> bool:
    """A typical practice is listed when one of its conditions on what the firm is or plans is met (a profile
    that states none of these sees every practice)."""
    return any(c.kind in _SPECIFIC_KINDS and c.status == MET for c in checks)


def match(
    profile: Profile | dict | str,
    *,
    settings: Any = None,
    engine: Any = None,
    include_unmet: bool = False,
) -> MatchResult:
    """The measures of the corpus that apply to ``profile``, each with its conditions checked and cited.

    ``profile``: a Profile, a dict of fields (English or Chinese names) or one Chinese sentence.
    Sorted 符合 before 可能符合 (before 不符合 with ``include_unmet``), then fewest conditions left to confirm,
    local before parent before national,
    then document order.
    """
    catalog = _catalog(settings, engine)
    prof = _to_profile(profile, catalog)
    place = _resolve_place(prof.location, catalog)
    facts = prof.facts()
    selective = bool(prof.plans or prof.qualifications or prof.industry_groups())
    found: list[tuple[tuple[int, int, int, int], Measure, str, list[ConditionCheck], str]] = []
    for measure in measures_for(catalog):
        scope = _scope(measure, place)
        if scope is None:
            continue
        checks = [_location_check(measure, scope, place)]
        for cond in measure.conditions:
            status, reason = _check(cond, prof, facts)
            checks.append(ConditionCheck(cond.kind, cond.text, status, reason))
        status = _status(checks)
        if status == NO_FIT and not include_unmet:
            continue
        if scope == EXAMPLE and selective and not _relevant_example(checks):
            continue
        open_questions = sum(c.status == UNKNOWN_STATUS for c in checks)  # fewer to confirm = closer to 符合
        key = (_STATUS_RANK[status], open_questions, _SCOPE_RANK[scope], _distance(measure, scope, place), measure.order)
        found.append((key, measure, scope, checks, status))
    found.sort(key=lambda f: f[0])
    docs = {d.doc_id: d for d in catalog.documents}
    results: list[MeasureMatch] = []
    for n, (_, measure, scope, checks, status) in enumerate(found, start=1):
        doc = docs[measure.doc_id]
        node = catalog.nodes[measure.node_id]
        results.append(
            MeasureMatch(
                measure_id=measure.measure_id,
                title=measure.title,
                text=measure.text,
                doc_id=measure.doc_id,
                doc_title=doc.title,
                jurisdiction=doc.jurisdiction,
                date=doc.date,
                scope=scope,
                status=status,
                conditions=checks,
                benefit=measure.benefit,
                department=measure.department,
                citation=Citation.from_node(n, NodeWithScore(node=node, score=1.0), quote=measure.text),
            )
        )
    location_path = "/".join(place.path) if place is not None and place.path else ""
    return MatchResult(
        profile=prof, location_path=location_path, measures=results, notes=_notes(prof, place, results)
    )
