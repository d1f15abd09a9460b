"""The measures of an index build, with their conditions, read by rules once per build ("政策找人").

A measure is a span of a chunk that grants something to enterprises (``spans``); its conditions and benefit
are read from its own sentence (``extract``) and the item heading, its department from the document's
责任单位 / 牵头单位 notes. None of it depends on a profile.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

from assistant.core.lexicon import pattern
from assistant.core.text import search_form, to_simplified
from assistant.decisions.eligibility.conditions import Condition, read_conditions
from assistant.decisions.eligibility.extract import benefit, measure_conditions
from assistant.decisions.eligibility.spans import measure_spans
from assistant.decisions.titles import heading_of, measure_title
from assistant.index.catalog import Catalog
from assistant.retrieval.plan import NATIONAL

__all__ = ["Measure", "extract_measures", "measures_for"]


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


_DEPARTMENT = pattern("eligibility", "measure_text.department")
_DEPARTMENT_LEAD = pattern("eligibility", "measure_text.department_lead")


def _department_markers(text: str) -> list[tuple[int, str]]:
    """(offset, department) of every 责任单位 / 牵头单位 / "…牵头负责" note of a document."""
    found = [(m.start(), m.group(1)) for m in _DEPARTMENT.finditer(text)]
    found += [(m.start(), m.group(1)) for m in _DEPARTMENT_LEAD.finditer(text)]
    out = []
    for pos, raw in sorted(found):
        dept = to_simplified(raw).strip().lstrip("*").replace("<", "（").replace(">", "）").strip("，,。 ")
        out.append((pos, dept))
    return out


def _section_spans(catalog: Catalog) -> dict[tuple[str, str], tuple[int, int]]:
    """(doc_id, section) -> the span of the document the section's chunks cover."""
    spans: dict[tuple[str, str], tuple[int, int]] = {}
    for nid in catalog.node_ids:
        md = catalog.nodes[nid].metadata
        key = (md["doc_id"], md.get("section", ""))
        start, end = int(md["start"]), int(md["end"])
        lo, hi = spans.get(key, (start, end))
        spans[key] = (min(lo, start), max(hi, end))
    return spans


def extract_measures(catalog: Catalog) -> list[Measure]:
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
    return list(_measures(catalog))


def _measures(catalog: Catalog) -> Iterator[Measure]:
    docs = {d.doc_id: d for d in catalog.documents}
    spans = _section_spans(catalog)
    markers = {doc_id: _department_markers(catalog.cleaned_text(doc_id)) for doc_id in docs}
    for position, nid in enumerate(catalog.node_ids):
        node = catalog.nodes[nid]
        md = node.metadata
        doc = docs.get(md["doc_id"])
        if doc is None:
            continue
        text = node.get_content()
        base = int(md["start"])
        section = str(md.get("section", ""))
        heading_conds = read_conditions(search_form(heading_of(section)))
        sec_lo, sec_hi = spans[(md["doc_id"], section)]
        juris = to_simplified(doc.jurisdiction)
        city = to_simplified(str(md.get("city", "")))
        practice = md.get("kind") == "practice"
        for a, b in measure_spans(text, section, city, practice):
            simp = search_form(text[a:b])
            start, end = base + a, base + b
            dept = next((d for pos, d in markers[doc.doc_id] if start <= pos < sec_hi and pos >= sec_lo), "")
            yield Measure(
                measure_id=f"{doc.doc_id}:{start}-{end}",
                title=measure_title(md, text, a),
                text=text[a:b],
                doc_id=doc.doc_id,
                node_id=nid,
                city=city,
                national=juris == NATIONAL,
                juris_parts=tuple(p for p in juris.split("/") if p),
                benefit=benefit(simp),
                department=dept,
                conditions=measure_conditions(simp, heading_conds, practice),
                order=(position, a),
            )


_cache: dict[str, list[Measure]] = {}
_cache_lock = threading.Lock()
_CACHED_BUILDS = 4


def measures_for(catalog: Catalog) -> list[Measure]:
    """The measures of a catalog's build, extracted once per build id (the last few builds are kept)."""
    with _cache_lock:
        found = _cache.get(catalog.build_id)
        if found is None:
            found = _cache[catalog.build_id] = extract_measures(catalog)
            while len(_cache) > _CACHED_BUILDS:
                _cache.pop(next(iter(_cache)))
        return found
