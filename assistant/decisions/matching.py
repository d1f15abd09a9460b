"""The eligibility check ("政策找人"): which measures of the corpus apply to one enterprise, and why.

This module holds the public results (:class:`MatchResult`, :class:`MeasureMatch`, :class:`ConditionCheck`
and the status and scope words), the check of one profile against one measure, the resolution of the
profile's place, and :func:`match`; the measures themselves come from ``measures`` and the profile from
``profiles``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from llama_index.core.schema import NodeWithScore

from assistant.core.schema import Citation
from assistant.core.tables import csv_text, md_text
from assistant.core.text import search_form
from assistant.core.validity import HISTORY_STATES, Validity, resolve
from assistant.decisions.measures import Condition, Measure, measures_for
from assistant.decisions.profiles import Profile, check_description, field_label
from assistant.decisions.vocabulary import SIZE_CLASSES, vocabulary
from assistant.qa.notices import annotate_rows, measure_states
from assistant.retrieval.plan import NATIONAL, UNKNOWN

__all__ = [
    "EXAMPLE",
    "FITS",
    "LOCAL",
    "MAY_FIT",
    "NO_FIT",
    "PARENT",
    "ConditionCheck",
    "MatchResult",
    "MeasureMatch",
    "match",
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
    validity: str = ""  # the document's state on the date (Lifecycle.state_on), "" without a lifecycle
    validity_notice: str = ""  # e.g. 该条款的执行期限按温政发〔2023〕6号执行（未收录）; "" when in force

    def conditions_text(self, sep: str = "；") -> str:
        return sep.join(f"{c.label()}（{c.reason}）" for c in self.conditions)


@dataclass
class MatchResult:
    profile: Profile
    location_path: str  # resolved jurisdiction path, e.g. "浙江省/温州市/乐清市" ("" when unknown)
    measures: list[MeasureMatch] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    as_of: str = ""  # YYYY-MM-DD: only measures of documents in force on that day (unless 包括历史文件)

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
            "as_of": self.as_of,
        }

    def to_markdown(self) -> str:
        """A readable Chinese list: one block per measure with ✓/✗/? conditions, benefit, department, source.

        Every value is HTML-escaped (``md_text``): document or profile text never runs as markup."""
        counts = self.counts()
        lines = [f"**企业画像**：{md_text(self.profile.describe())}"]
        if self.location_path:
            lines.append(f"**所在地**：{md_text(self.location_path)}")
        summary = f"共 {len(self.measures)} 条措施：符合 {counts[FITS]} 条，可能符合 {counts[MAY_FIT]} 条"
        if counts[NO_FIT]:
            summary += f"，不符合 {counts[NO_FIT]} 条"
        lines += ["", summary + "。"]
        lines += [f"> {md_text(note)}" for note in self.notes]
        if not self.measures:
            lines += ["", "没有找到适用的措施。"]
        for i, m in enumerate(self.measures, start=1):
            head = f"【{m.status}】{m.title}（{m.scope} · {m.jurisdiction}）"
            lines += ["", f"### {i}. {md_text(head)}"]
            lines.append(f"- 措施：{md_text(m.text)}")
            if m.conditions:
                lines.append("- 条件：")
                lines += [f"  - {md_text(f'{c.label()}（{c.reason}）')}" for c in m.conditions]
            lines.append(f"- 优惠：{md_text(m.benefit or '原文未写明具体金额或比例')}")
            if m.validity_notice:
                lines.append(f"- 有效期：{md_text(m.validity_notice)}")
            if m.department:
                lines.append(f"- 责任单位：{md_text(m.department)}")
            lines.append(f"- 出处：[{m.citation.n}] {md_text(m.citation.label())}")
        return "\n".join(lines)

    def to_csv(self) -> str:
        """CSV text for Excel (formula-like cells escaped; the caller adds a BOM when writing a file)."""
        header = ["序号", "状态", "范围", "措施", "条件", "优惠", "责任单位", "地区", "文件", "出处", "原文", "措施编号", "有效期"]
        rows = [
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
                m.validity_notice,
            ]
            for i, m in enumerate(self.measures, start=1)
        ]
        return csv_text(header, rows)


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
    from assistant.retrieval.retriever import gazetteer_for

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
    from assistant.retrieval.plan import short_name

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
    from assistant.index.catalog import open_catalog

    return open_catalog(settings)


def _to_profile(profile: Profile | dict | str, catalog: Any) -> Profile:
    if isinstance(profile, Profile):
        return profile
    if isinstance(profile, str):
        from assistant.retrieval.retriever import gazetteer_for

        limit = catalog.settings.max_profile_chars
        text = search_form(check_description(profile, limit))  # the cap first: the gazetteer reads it all
        gz = gazetteer_for(catalog)
        names = gz.find(text)
        places = [max(names, key=lambda n: len(gz.parents.get(n, [])))] if names else None
        parsed = Profile.from_text(profile, places=places, max_chars=limit)
        if places:  # keep a sub-place the user wrote after it ("乐清市柳市镇" stays at 乐清市)
            rest = _remaining_place(text, places[0])
            parsed.location = places[0] + rest
        return parsed
    return Profile.from_dict(profile)


def _notes(
    profile: Profile, place: _Place | None, measures: list[MeasureMatch], lapsed: Sequence[str] = ()
) -> list[str]:
    notes: list[str] = []
    if place is None:
        notes.append("企业画像未说明所在地：列出各地文件的措施，适用地区一项记为未知。")
    elif lapsed:  # the firm's own documents exist, but none is in force on the date
        notes.append(f"以下文件在该日期不在有效期内，其措施未列出（可选“包括历史文件”查看）：{'、'.join(lapsed)}。")
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
    as_of: date | None = None,
    validity: Validity | None = None,
) -> MatchResult:
    """The measures of the corpus that apply to ``profile``, each with its conditions checked and cited.

    ``profile``: a Profile, a dict of fields (English or Chinese names) or one Chinese sentence.
    Sorted 符合 before 可能符合 (before 不符合 with ``include_unmet``), then fewest conditions left to confirm,
    local before parent before national,
    then document order.

    Each condition is met, not met, or unknown when the profile does not say (never guessed).
    符合 = every condition met (and at least one besides the place); 可能符合 = none failed, some unknown;
    不符合 = one failed. Documents count when they are of the firm's own place (本地) or a parent (上级); the
    national collection of typical practices is listed as examples from other cities (全国典型做法): its place
    condition is always unknown, so it is never better than 可能符合, and it is listed only when one of its
    conditions on what the firm is or plans (qualification, plan, industry, figures) is met -- unless the
    profile states none of these.

    Only measures of documents in force on ``as_of`` (default today) are listed -- a firm cannot apply under an
    expired or repealed document -- each marked when its validity is unknown or delegated elsewhere; with
    ``validity="all"`` (包括历史文件) the others are listed too, after them, marked.
    """
    catalog = _catalog(settings, engine)
    when = resolve(as_of, validity)
    states = measure_states(catalog, when)
    docs = {d.doc_id: d for d in catalog.documents}
    lapsed: dict[str, None] = {}
    prof = _to_profile(profile, catalog)
    place = _resolve_place(prof.location, catalog)
    facts = prof.facts()
    selective = bool(prof.plans or prof.qualifications or prof.industry_groups())
    found: list[tuple[tuple[bool, int, int, int, int, int], Measure, str, list[ConditionCheck], str]] = []
    for measure in measures_for(catalog):
        scope = _scope(measure, place)
        if scope is None:
            continue
        if measure.doc_id not in states:  # not in force on the date
            if scope != EXAMPLE:
                lapsed.setdefault(f"《{docs[measure.doc_id].title}》")
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
        history = states[measure.doc_id][0] in HISTORY_STATES  # 包括历史文件: after the measures in force
        key = (history, _STATUS_RANK[status], open_questions, _SCOPE_RANK[scope], _distance(measure, scope, place), measure.order)
        found.append((key, measure, scope, checks, status))
    found.sort(key=lambda f: f[0])
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
                validity=states[measure.doc_id][0],
                validity_notice=states[measure.doc_id][1],
            )
        )
    location_path = "/".join(place.path) if place is not None and place.path else ""
    notes = _notes(prof, place, results, list(lapsed))
    notes[-1:-1] = annotate_rows(results, catalog, when)  # the date, validity and past targets, before the caveat
    return MatchResult(
        profile=prof, location_path=location_path, measures=results, notes=notes, as_of=when.day.isoformat()
    )
