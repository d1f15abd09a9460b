"""Policies have a life: when each document is in force, what replaced it, and where its validity is set.

``Lifecycle`` is what the manifest or the document's own text states (``lifecycle_extract``), linked across
the corpus: a document that repeals another (原《…》同时废止, or ``supersedes`` in the manifest) marks that
one as superseded, and both stay in the index as a version chain. Nothing is guessed: a document that states
nothing is 未知, and ``notice`` says so. Computed once per index build (``Catalog.lifecycles``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Literal

from assistant.corpus.lifecycle_extract import Extracted, add_years, extract

Status = Literal["现行有效", "已失效", "已废止", "部分失效", "未知"]
State = Literal["in_force", "not_yet", "expired", "repealed", "delegated", "unknown"]
STATUSES: tuple[str, ...] = ("现行有效", "已失效", "已废止", "部分失效", "未知")
STATE_LABELS: dict[str, str] = {
    "in_force": "现行有效", "not_yet": "尚未施行", "expired": "已失效", "repealed": "已废止",
    "delegated": "未知", "unknown": "未知",
}
MANIFEST = "manifest"


@dataclass(frozen=True)
class Evidence:
    """Where a lifecycle value comes from: a sentence with its offsets in the cleaned text, or the manifest.

    ``doc_id`` is set when the sentence is another corpus document's (the newer version that repeals this one);
    ``fields`` names the values the sentence states (effective_from, expires_on, status, supersedes, …).
    """

    text: str
    start: int
    end: int
    source: Literal["manifest", "text", "reference"]
    doc_id: str = ""
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class Link:
    """One document repealing another inside the corpus, and what says so."""

    old_id: str
    new_id: str
    new_title: str
    new_number: str
    new_from: date | None  # when the newer document takes effect (its effective_from, else its date)
    evidence: Evidence


@dataclass(frozen=True)
class Lifecycle:
    doc_id: str
    status: Status = "未知"
    effective_from: date | None = None
    expires_on: date | None = None
    supersedes: tuple[str, ...] = ()
    superseded_by: tuple[str, ...] = ()
    delegated_to: tuple[str, ...] = ()
    delegated_in_corpus: bool = False
    validity_source: Literal["manifest", "text", "reference", "none"] = "none"
    evidence: tuple[Evidence, ...] = ()
    repealed_by: tuple[Link, ...] = ()  # newer corpus documents that repeal this one
    replaces: tuple[Link, ...] = ()  # older corpus documents this one repeals
    stated_status: Status | None = None  # the status before linking (its own sources); None = same as status
    supersede_refs: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # (title, 文号) for linking

    def state_on(self, as_of: date) -> State:
        """Where this document stands on ``as_of``; only what the sources state decides it."""
        if self.repealed_by:  # a newer corpus document: repealed from the day it takes effect
            if any(link.new_from is None or link.new_from <= as_of for link in self.repealed_by):
                return "repealed"
        elif self.status == "已废止" or self.superseded_by:  # said so, date unknown
            return "repealed"
        if (self.expires_on and self.expires_on < as_of) or self.own_status == "已失效":
            return "expired"
        if self.effective_from and self.effective_from > as_of:
            return "not_yet"
        if self.delegated_to and not self.delegated_in_corpus and not self.has_own_validity():
            return "delegated"
        if not self.has_own_validity():
            return "unknown"
        return "in_force"

    @property
    def own_status(self) -> Status:
        """The status this document's own manifest entry or text states, before any newer version repeals it."""
        return self.status if self.stated_status is None else self.stated_status

    def has_own_validity(self) -> bool:
        return bool(self.effective_from or self.expires_on or self.own_status != "未知")

    def status_on(self, as_of: date) -> str:
        """The status a person reads for ``as_of`` (现行有效 / 已失效 / 已废止 / 尚未施行 / 部分失效 / 未知)."""
        state = self.state_on(as_of)
        if state == "in_force" and self.own_status == "部分失效":
            return "部分失效"
        return STATE_LABELS[state]

    def notice(self, as_of: date, title: str = "") -> str | None:
        """The visible notice for an answer citing this document on ``as_of``; None when it is simply in force."""
        subject = f"《{title}》" if title else "该文件"
        state = self.state_on(as_of)
        if state == "repealed":
            return f"{subject}已被{_successors(self)}废止" if (self.repealed_by or self.superseded_by) else f"{subject}已废止"
        if state == "expired":
            return f"{subject}有效期至{_cn_date(self.expires_on)}（已过期）" if self.expires_on else f"{subject}已失效"
        if state == "not_yet":
            return f"{subject}自{_cn_date(self.effective_from)}起施行（尚未生效）"
        if state == "delegated":
            scope = f"{subject}中条款" if title else "该条款"
            return f"{scope}的执行期限按{'、'.join(self.delegated_to)}执行（未收录）"
        if state == "unknown":
            return f"{subject}有效期未说明"
        return f"{subject}部分失效，请核对所引条款是否仍然有效" if self.own_status == "部分失效" else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly: dates as YYYY-MM-DD."""
        iso = lambda d: d.isoformat() if d else None  # noqa: E731
        return {
            "status": self.status,
            "effective_from": iso(self.effective_from),
            "expires_on": iso(self.expires_on),
            "supersedes": list(self.supersedes),
            "superseded_by": list(self.superseded_by),
            "delegated_to": list(self.delegated_to),
            "delegated_in_corpus": self.delegated_in_corpus,
            "validity_source": self.validity_source,
            "evidence": [
                {"text": e.text, "start": e.start, "end": e.end, "source": e.source, "doc_id": e.doc_id,
                 "fields": list(e.fields)}
                for e in self.evidence
            ],
        }


def _cn_date(day: date | None) -> str:
    return f"{day.year}年{day.month}月{day.day}日" if day else ""


def _successors(lc: Lifecycle) -> str:
    """《B》（B号，2025年1月1日起施行）for each corpus document that repeals this one, else the named ones."""
    parts = []
    for link in lc.repealed_by:
        inner = "，".join(p for p in (link.new_number, f"{_cn_date(link.new_from)}起施行" if link.new_from else "") if p)
        parts.append(f"《{link.new_title}》" + (f"（{inner}）" if inner else ""))
    return "、".join(parts or lc.superseded_by)


# --- one document ----------------------------------------------------------------------------------


def parse_iso(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _ref_text(title: str, number: str) -> str:
    return number or title


def document_lifecycle(doc_id: str, cleaned_text: str, doc_date: str = "",
                       manifest: Mapping[str, Any] | None = None) -> Lifecycle:
    """The lifecycle one document states (manifest beats text), before linking across the corpus."""
    ex = extract(cleaned_text)
    evidence = _merge_evidence(ex)
    manifest = manifest or {}
    effective = ex.effective_from or (parse_iso(doc_date) if ex.effective_on_issue else None)
    start = parse_iso(manifest.get("effective_from")) or effective  # 有效期X年 counts from the effective date
    expires = ex.expires_on or (add_years(start, ex.years) if ex.years and start else None)
    stated_dates = bool(ex.effective_from or ex.effective_on_issue or ex.expires_on or ex.years)
    status: Status = ex.status or ("现行有效" if stated_dates else "未知")  # type: ignore[assignment]
    source = "text" if (ex.status or stated_dates) else ("reference" if ex.delegated_to else "none")
    lc = Lifecycle(
        doc_id=doc_id, status=status, effective_from=effective, expires_on=expires,
        supersedes=tuple(dict.fromkeys(_ref_text(t, n) for t, n in ex.supersedes)),
        delegated_to=tuple(ex.delegated_to), validity_source=source, evidence=evidence,
        stated_status=status, supersede_refs=tuple(ex.supersedes),
    )
    return _apply_manifest(lc, manifest)


def _merge_evidence(ex: Extracted) -> tuple[Evidence, ...]:
    by_sentence: dict[int, tuple[Any, list[str]]] = {}
    for sentence, kind in ex.evidence:
        entry = by_sentence.setdefault(sentence.start, (sentence, []))
        if kind not in entry[1]:
            entry[1].append(kind)
    return tuple(Evidence(s.text, s.start, s.end, "text", fields=tuple(kinds)) for s, kinds in by_sentence.values())


def _apply_manifest(lc: Lifecycle, manifest: Mapping[str, Any]) -> Lifecycle:
    """Manifest keys (status, effective_from, expires_on, supersedes, superseded_by) override the text."""
    keys = [k for k in ("status", "effective_from", "expires_on", "supersedes", "superseded_by") if manifest.get(k)]
    if not keys:
        return lc
    own = any(manifest.get(k) for k in ("status", "effective_from", "expires_on", "superseded_by"))
    changes: dict[str, Any] = {"validity_source": MANIFEST} if own else {}
    if manifest.get("status"):
        changes["status"] = changes["stated_status"] = manifest["status"]
    for key in ("effective_from", "expires_on"):
        if manifest.get(key):
            changes[key] = parse_iso(manifest[key])
    if manifest.get("supersedes"):
        refs = tuple(manifest["supersedes"])
        changes["supersedes"] = tuple(dict.fromkeys((*refs, *lc.supersedes)))
        changes["supersede_refs"] = (*((r, "") for r in refs), *lc.supersede_refs)
    if manifest.get("superseded_by"):
        changes["superseded_by"] = tuple(manifest["superseded_by"])
        if not manifest.get("status"):
            changes["status"] = "已废止"
    if changes.get("status", lc.status) == "未知" and (changes.get("effective_from") or changes.get("expires_on")):
        changes["status"] = changes["stated_status"] = "现行有效"
    evidence = Evidence(MANIFEST, -1, -1, "manifest", fields=tuple(keys))
    return replace(lc, evidence=(evidence, *lc.evidence), **changes)

