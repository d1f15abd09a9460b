"""The user's filters (places, documents, date, validity) and the documents they allow in one build."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from assistant.core.validity import VALIDITY_LABELS, Validity
from assistant.index.catalog import Catalog
from assistant.retrieval.builds import per_build
from assistant.retrieval.gazetteer import NATIONAL, short_name


class UnknownFilterError(ValueError):
    """A filter names a jurisdiction or document the index does not have."""


@dataclass
class Filters:
    """User filters: jurisdictions (any path component, e.g. 温州市 or 温州), documents (doc_id, file or title),
    the date to answer as of (None = today, ``assistant.core.validity.today``) and which documents count on it
    (``validity``: None = 现行版本, "current" = 只看现行有效, "all" = 包括历史文件; see ``assistant.core.validity``)."""

    jurisdictions: list[str] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)
    as_of: date | None = None
    validity: Validity | None = None

    def __bool__(self) -> bool:
        """True when any filter is set."""
        return bool(self.jurisdictions or self.documents or self.as_of or self.validity)

    def describe(self) -> str:
        parts = []
        if self.jurisdictions:
            parts.append("地区：" + "、".join(self.jurisdictions))
        if self.documents:
            parts.append("文件：" + "、".join(self.documents))
        if self.as_of:
            parts.append(f"日期：{self.as_of.isoformat()}")
        if self.validity:
            parts.append(VALIDITY_LABELS[self.validity])
        return "；".join(parts)


@dataclass(frozen=True)
class FilterIndex:
    """Per build: documents by the short name of each part of their jurisdiction path, and by doc_id, file
    and title, so a filter is a lookup rather than a pass over every document."""

    by_place: dict[str, set[str]]
    national: set[str]
    by_name: dict[str, set[str]]


@per_build
def filter_index(catalog: Catalog) -> FilterIndex:
    by_place: dict[str, set[str]] = defaultdict(set)
    by_name: dict[str, set[str]] = defaultdict(set)
    for d in catalog.documents:
        for part in d.jurisdiction.split("/"):
            by_place[short_name(part)].add(d.doc_id)
        for name in (d.doc_id, d.file, d.title):
            by_name[name].add(d.doc_id)
    national = {d.doc_id for d in catalog.documents if d.jurisdiction == NATIONAL}
    return FilterIndex(dict(by_place), national, dict(by_name))


def resolve_filters(filters: Filters | None, catalog: Catalog) -> set[str] | None:
    """Doc ids the filters allow (None = all); unknown names raise with the known choices."""
    if not filters or not (filters.jurisdictions or filters.documents):
        return None
    index = filter_index(catalog)
    allowed: set[str] | None = None  # every name in the index is a document of the build
    if filters.jurisdictions:
        matched: set[str] = set()
        for j in filters.jurisdictions:
            docs = index.by_place.get(short_name(j.strip()), set()) | (
                index.national if j == NATIONAL else set()
            )
            if not docs:
                known = sorted({p for d in catalog.documents for p in d.jurisdiction.split("/") if p})
                raise UnknownFilterError(f"未知的地区筛选“{j}”。可选：{'、'.join(known)}")
            matched |= docs
        allowed = matched
    if filters.documents:
        matched = set()
        for name in filters.documents:
            docs = index.by_name.get(name, set())
            if not docs:
                names = "、".join(d.title or d.file for d in catalog.documents)
                raise UnknownFilterError(f"未知的文件筛选“{name}”。可选：{names}")
            matched |= docs
        allowed = matched if allowed is None else allowed & matched
    return allowed
