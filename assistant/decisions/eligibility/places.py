"""Where the firm is, and which documents count for it: its own place (本地), a parent (上级), or the national
collection of typical practices (全国典型做法), which is listed only as examples from other cities.
"""

from __future__ import annotations

from dataclasses import dataclass

from assistant.core.lexicon import pattern
from assistant.core.text import search_form
from assistant.decisions.eligibility.measures import Measure
from assistant.decisions.eligibility.results import (
    EXAMPLE,
    LOCAL,
    MET,
    PARENT,
    UNKNOWN_STATUS,
    ConditionCheck,
)
from assistant.index.catalog import Catalog
from assistant.retrieval.plan import NATIONAL, UNKNOWN, short_name
from assistant.retrieval.retriever import gazetteer_for

__all__ = ["Place", "distance", "location_check", "remaining_place", "resolve_place", "scope"]


@dataclass
class Place:
    path: tuple[str, ...]  # resolved jurisdiction path, the profile's own place last
    known: bool  # the leaf is a place of the corpus
    name: str  # what to call the place in notes


_SUB_PLACE = pattern("eligibility", "places.sub_place")  # 柳市镇, 鹿城区
_CJK_RUN = pattern("eligibility", "places.cjk_run")


def resolve_place(location: str, catalog: Catalog) -> Place | None:
    """The profile place as a jurisdiction path, with the corpus gazetteer; None when no location is given."""
    text = search_form(location).strip()
    if not text:
        return None
    gz = gazetteer_for(catalog)
    names = gz.find(text)
    if not names:
        return Place((), False, text)
    name = max(names, key=lambda n: len(gz.parents.get(n, [])))
    path = (*gz.parents.get(name, []), name)
    rest = remaining_place(text, name)
    if rest:  # 温州市鹿城区: a place below the corpus's 温州市
        return Place((*path, rest), False, rest)
    return Place(path, True, name)


def remaining_place(text: str, name: str) -> str:
    """A sub-place written after the known one ("温州市鹿城区" -> "鹿城区"), else ""."""
    for alias in (name, short_name(name)):
        i = text.find(alias)
        if i >= 0:
            run = _CJK_RUN.match(text[i + len(alias) :].strip()).group(0).split("的")[0]
            m = _SUB_PLACE.match(run[:7])  # the longest place word right after it: 柳市镇, 鹿城区
            return m.group(0) if m else ""
    return ""


def scope(measure: Measure, place: Place | None) -> str | None:
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


def distance(measure: Measure, scope: str, place: Place | None) -> int:
    """Closer first inside a scope: the nearer parent; a practice of the firm's own city (or its parent)."""
    if place is None:
        return 0
    if scope == PARENT:
        return len(place.path) - len(measure.juris_parts)
    if scope == EXAMPLE:
        return 0 if measure.city and measure.city in place.path else 1
    return 0


def location_check(measure: Measure, scope: str, place: Place | None) -> ConditionCheck:
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
