"""The check of one condition against one profile: met, not met, or unknown when the profile does not say.

One checker per condition kind (qualification, plan, size, revenue, employees, age, tax_credit, industry,
ownership); alternatives ("any") need one member met, words written together ("all") need every one. Nothing is
guessed: a fact the profile leaves out makes the condition unknown, with a reason that says what is missing.
"""

from __future__ import annotations

from collections.abc import Callable

from assistant.decisions.eligibility.conditions import Condition
from assistant.decisions.eligibility.profile import Profile
from assistant.decisions.eligibility.results import (
    FITS,
    MAY_FIT,
    MET,
    NO_FIT,
    NOT_MET,
    UNKNOWN_STATUS,
    ConditionCheck,
)
from assistant.decisions.eligibility.vocabulary import SIZE_CLASSES, vocabulary

__all__ = ["check", "overall_status"]

Verdict = tuple[str, str]  # (status, reason)


def _fmt(value: float) -> str:
    return f"{value:g}"


def check(c: Condition, p: Profile, facts: set[str]) -> Verdict:
    """(status, reason) of one condition for one profile."""
    if c.key == "other":
        return UNKNOWN_STATUS, "原文条件，规则无法判断，请对照原文核实"
    if c.key == "all":  # words of one alternative written together: every one must hold
        results = [(m, *check(m, p, facts)) for m in c.members]
        failed = [r for r in results if r[1] == NOT_MET]
        if failed:
            return NOT_MET, f"不满足“{failed[0][0].text}”：{failed[0][2]}"
        if all(st == MET for _, st, _ in results):
            return MET, "；".join(r for _, _, r in results)
        return UNKNOWN_STATUS, "；".join(f"{m.text}：{r}" for m, st, r in results if st == UNKNOWN_STATUS)
    if c.members:
        results = [(m, *check(m, p, facts)) for m in c.members]
        if any(s == MET for _, s, _ in results):
            m, _, reason = next(r for r in results if r[1] == MET)
            return MET, f"满足其中“{m.text}”：{reason}"
        if all(s == NOT_MET for _, s, _ in results):
            return NOT_MET, "均不满足：" + "；".join(r for _, _, r in results)
        return UNKNOWN_STATUS, "；".join(f"{m.text}：{r}" for m, s, r in results if s == UNKNOWN_STATUS)
    checker = _CHECKERS[c.kind]
    return checker(c, p, facts)


def _check_qualification(c: Condition, p: Profile, facts: set[str]) -> Verdict:
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


def _check_plan(c: Condition, p: Profile, facts: set[str]) -> Verdict:
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


def _check_size(c: Condition, p: Profile, facts: set[str]) -> Verdict:
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


def _check_range(value: float | None, c: Condition, unit: str, what: str, field: str) -> Verdict:
    if value is None:
        return UNKNOWN_STATUS, f"企业画像未说明{field}"
    shown = f"{what}{_fmt(value)}{unit}"
    if c.low is not None and value < c.low:
        return NOT_MET, f"{shown}，低于{_fmt(c.low)}{unit}"
    if c.high is not None and value > c.high:
        return NOT_MET, f"{shown}，超过{_fmt(c.high)}{unit}"
    return MET, shown


def _check_revenue(c: Condition, p: Profile, facts: set[str]) -> Verdict:
    return _check_range(p.revenue, c, "万元", "年营业收入", "年营业收入")


def _check_employees(c: Condition, p: Profile, facts: set[str]) -> Verdict:
    return _check_range(p.employees, c, "人", "员工", "员工人数")


def _check_age(c: Condition, p: Profile, facts: set[str]) -> Verdict:
    status, reason = _check_range(p.age_years, c, "年", "成立", "成立年限")
    if c.key != "age" and status != UNKNOWN_STATUS:  # a word such as 初创: say how it is read
        reason += f"（“{c.key}”按{_fmt(c.high or 0)}年以内计）"
    return status, reason


def _check_tax(c: Condition, p: Profile, facts: set[str]) -> Verdict:
    if not p.tax_credit:
        return UNKNOWN_STATUS, "企业画像未说明纳税信用等级"
    if p.tax_credit in c.grades:
        return MET, f"纳税信用{p.tax_credit}级"
    return NOT_MET, f"纳税信用{p.tax_credit}级，要求{'或'.join(c.grades)}级"


def _check_industry(c: Condition, p: Profile, facts: set[str]) -> Verdict:
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


def _check_ownership(c: Condition, p: Profile, facts: set[str]) -> Verdict:
    rule = vocabulary().ownership_conditions[c.key]
    if not p.ownership:
        return UNKNOWN_STATUS, "企业画像未说明所有制"
    if p.ownership in rule["met"]:
        return MET, f"企业为{p.ownership}企业"
    if p.ownership in rule["not_met"]:
        return NOT_MET, f"企业为{p.ownership}企业，不是{c.key}企业"
    return UNKNOWN_STATUS, f"{p.ownership}企业是否算{c.key}企业，需向主管部门确认"


_CHECKERS: dict[str, Callable[[Condition, Profile, set[str]], Verdict]] = {
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


def overall_status(checks: list[ConditionCheck]) -> str:
    """不符合 if any condition fails; 符合 only when all are met and at least one is more than the place."""
    if any(c.status == NOT_MET for c in checks):
        return NO_FIT
    if any(c.status == UNKNOWN_STATUS for c in checks):
        return MAY_FIT
    return FITS if any(c.kind != "location" for c in checks) else MAY_FIT
