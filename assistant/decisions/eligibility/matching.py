"""The eligibility check ("政策找人"): which measures of the corpus apply to one enterprise, and why.

:func:`match` reads the profile (``profile`` / ``profile_text``), resolves its place (``places``), checks every
measure of the build (``measures``) condition by condition (``checks``) and returns the sorted, cited list
(``results``), with notes on what the profile leaves open.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from llama_index.core.schema import NodeWithScore

from assistant.core.schema import Citation
from assistant.core.text import search_form
from assistant.core.validity import HISTORY_STATES, Validity, resolve
from assistant.decisions.eligibility.checks import check, overall_status
from assistant.decisions.eligibility.fields import field_label
from assistant.decisions.eligibility.measures import Measure, measures_for
from assistant.decisions.eligibility.places import (
    Place,
    distance,
    location_check,
    remaining_place,
    resolve_place,
    scope,
)
from assistant.decisions.eligibility.profile import Profile
from assistant.decisions.eligibility.profile_text import check_description
from assistant.decisions.eligibility.results import (
    EXAMPLE,
    FITS,
    LOCAL,
    MAY_FIT,
    MET,
    NO_FIT,
    PARENT,
    UNKNOWN_STATUS,
    ConditionCheck,
    MatchResult,
    MeasureMatch,
)
from assistant.decisions.eligibility.vocabulary import vocabulary
from assistant.decisions.seams import RetrievingEngine
from assistant.index.catalog import Catalog, DocumentInfo, open_catalog
from assistant.qa.notices import annotate_rows, measure_states
from assistant.retrieval.retriever import gazetteer_for
from assistant.settings import Settings

__all__ = ["match"]

_STATUS_RANK = {FITS: 0, MAY_FIT: 1, NO_FIT: 2}
_SCOPE_RANK = {LOCAL: 0, PARENT: 1, EXAMPLE: 2}


def _to_profile(profile: Profile | dict[str, Any] | str, catalog: Catalog) -> Profile:
    if isinstance(profile, Profile):
        return profile
    if isinstance(profile, str):
        limit = catalog.settings.max_profile_chars
        text = search_form(check_description(profile, limit))  # the cap first: the gazetteer reads it all
        gz = gazetteer_for(catalog)
        names = gz.find(text)
        places = [max(names, key=lambda n: len(gz.parents.get(n, [])))] if names else None
        parsed = Profile.from_text(profile, places=places, max_chars=limit)
        if places:  # keep a sub-place the user wrote after it ("乐清市柳市镇" stays at 乐清市)
            rest = remaining_place(text, places[0])
            parsed.location = places[0] + rest
        return parsed
    return Profile.from_dict(profile)


def _notes(profile: Profile, place: Place | None, measures: list[MeasureMatch], lapsed: Sequence[str] = ()) -> list[str]:
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
        notes.append("“全国典型做法”是国家发展改革委汇编的其他城市经验，仅供参考，不是企业可直接申请的本地政策。")
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


def _checks(measure: Measure, where: str, place: Place | None, prof: Profile, facts: set[str]) -> list[ConditionCheck]:
    """The place check, then each condition of the measure."""
    checks = [location_check(measure, where, place)]
    for cond in measure.conditions:
        status, reason = check(cond, prof, facts)
        checks.append(ConditionCheck(cond.kind, cond.text, status, reason))
    return checks


def _measure_match(n: int, measure: Measure, where: str, checks: list[ConditionCheck], status: str,
                   doc: DocumentInfo, catalog: Catalog, state: tuple[str, str]) -> MeasureMatch:  # fmt: skip
    node = catalog.nodes[measure.node_id]
    return MeasureMatch(
        measure_id=measure.measure_id,
        title=measure.title,
        text=measure.text,
        doc_id=measure.doc_id,
        doc_title=doc.title,
        jurisdiction=doc.jurisdiction,
        date=doc.date,
        scope=where,
        status=status,
        conditions=checks,
        benefit=measure.benefit,
        department=measure.department,
        citation=Citation.from_node(n, NodeWithScore(node=node, score=1.0), quote=measure.text),
        validity=state[0],
        validity_notice=state[1],
    )


Found = tuple[tuple[bool, int, int, int, int, tuple[int, int]], Measure, str, list[ConditionCheck], str]


def _candidates(
    catalog: Catalog,
    prof: Profile,
    place: Place | None,
    states: dict[str, tuple[str, str]],
    include_unmet: bool,
    lapsed: dict[str, None],
) -> list[Found]:
    """(sort key, measure, scope, checks, status) of every measure listed for the profile; the titles of the
    firm's own documents not in force on the date go to ``lapsed``."""
    docs = {d.doc_id: d for d in catalog.documents}
    facts = prof.facts()
    selective = bool(prof.plans or prof.qualifications or prof.industry_groups())
    found: list[Found] = []
    for measure in measures_for(catalog):
        where = scope(measure, place)
        if where is None:
            continue
        if measure.doc_id not in states:  # not in force on the date
            if where != EXAMPLE:
                lapsed.setdefault(f"《{docs[measure.doc_id].title}》")
            continue
        checks = _checks(measure, where, place, prof, facts)
        status = overall_status(checks)
        if status == NO_FIT and not include_unmet:
            continue
        if where == EXAMPLE and selective and not _relevant_example(checks):
            continue
        open_questions = sum(c.status == UNKNOWN_STATUS for c in checks)  # fewer to confirm = closer to 符合
        history = states[measure.doc_id][0] in HISTORY_STATES  # 包括历史文件: after the measures in force
        near = distance(measure, where, place)
        key = (history, _STATUS_RANK[status], open_questions, _SCOPE_RANK[where], near, measure.order)
        found.append((key, measure, where, checks, status))
    return found


def match(
    profile: Profile | dict[str, Any] | str,
    *,
    settings: Settings | None = None,
    engine: RetrievingEngine | None = None,
    include_unmet: bool = False,
    as_of: date | None = None,
    validity: Validity | None = None,
) -> MatchResult:
    """The measures of the corpus that apply to ``profile``, each with its conditions checked and cited.

    ``profile``: a Profile, a dict of fields (English or Chinese names) or one Chinese sentence.
    Sorted 符合 before 可能符合 (before 不符合 with ``include_unmet``), then fewest conditions left to confirm,
    local before parent before national, then document order.

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
    catalog = engine.retriever.catalog if engine is not None else open_catalog(settings)
    when = resolve(as_of, validity)
    states = measure_states(catalog, when)
    docs = {d.doc_id: d for d in catalog.documents}
    lapsed: dict[str, None] = {}  # titles of the firm's own documents not in force on the date
    prof = _to_profile(profile, catalog)
    place = resolve_place(prof.location, catalog)
    found = _candidates(catalog, prof, place, states, include_unmet, lapsed)
    found.sort(key=lambda f: f[0])
    results = [
        _measure_match(n, measure, where, checks, status, docs[measure.doc_id], catalog, states[measure.doc_id])
        for n, (_, measure, where, checks, status) in enumerate(found, start=1)
    ]
    location_path = "/".join(place.path) if place is not None and place.path else ""
    notes = _notes(prof, place, results, list(lapsed))
    notes[-1:-1] = annotate_rows(results, catalog, when)  # the date, validity and past targets, before the caveat
    return MatchResult(
        profile=prof, location_path=location_path, measures=results, notes=notes, as_of=when.day.isoformat()
    )

