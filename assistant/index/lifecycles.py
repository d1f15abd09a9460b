"""Lifecycles linked across the corpus: which document repeals which, and validity delegated to another.

A newer version names the one it replaces (原《…》（…号）同时废止, or ``supersedes`` in the manifest), by 文号
(〔〕[]() alike) or title; the older one then reads 已废止 from the day the newer one takes effect, and both
stay in the index as a version chain (``policy-qa docs --history``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import date
from functools import lru_cache
from typing import Any

from assistant.core.text import doc_number_key, search_form
from assistant.corpus.lifecycle import MANIFEST, Evidence, Lifecycle, Link, document_lifecycle, parse_iso
from assistant.corpus.lifecycle_extract import normal_number


@lru_cache(maxsize=1 << 16)
def _title_key(title: str) -> str:
    return "".join(c for c in search_form(title) if not c.isspace() and c not in "《》“”\"'")


def _inner_titles(title: str) -> list[str]:
    """A notice's own title and the title it issues (关于印发《X》的通知 -> X)."""
    inner = [part.split("》", 1)[0] for part in title.split("《")[1:] if "》" in part]
    return [title, *inner]


class _Corpus:
    """The documents of one build, found by doc_id, file name, 文号 or title.

    Looked up through tables (by 文号 year and serial, by title key, by id and file name), not by a pass over
    every document per reference: a corpus of thousands of versioned documents names thousands of others,
    and a reader rebuilds this whenever an update lands."""

    def __init__(self, rows: Iterable[Mapping[str, Any]]) -> None:
        self.rows = {str(r["doc_id"]): r for r in rows}
        self.order = {d: i for i, d in enumerate(self.rows)}
        self.keys = {d: _number_key(str(r.get("doc_number") or "")) for d, r in self.rows.items()}
        self.titles = {d: _title_keys(str(r.get("title") or "")) for d, r in self.rows.items()}
        self.by_number: dict[tuple[str, str], list[str]] = defaultdict(list)  # (year, serial) -> documents
        self.by_title: dict[str, list[str]] = defaultdict(list)  # title key -> documents
        self.by_name: dict[str, list[str]] = defaultdict(list)  # doc_id or file name -> documents
        for d, r in self.rows.items():
            key = self.keys[d]
            if key:
                self.by_number[key[1:]].append(d)
            for t in self.titles[d]:
                self.by_title[t].append(d)
            for name in {d, str(r.get("file") or "")}:
                self.by_name[name].append(d)

    def find(self, title: str, number: str, exclude: str) -> list[str]:
        """Documents a reference names: by 文号 when both sides have one (two versions often share a title),
        else by title, doc_id or file name; in corpus order."""
        number = number or (normal_number(title) if len(title) <= len(normal_number(title)) + 4 else "")
        asked = _number_key(number) if number else None
        found = set()
        if asked:
            for doc_id in self.by_number.get(asked[1:], ()):
                key = self.keys[doc_id]
                if key and (key[0].endswith(asked[0]) or asked[0].endswith(key[0])):
                    found.add(doc_id)
        if title:
            for doc_id in (*self.by_title.get(_title_key(title), ()), *self.by_name.get(title, ())):
                if not (asked and self.keys[doc_id]):
                    found.add(doc_id)
        found.discard(exclude)
        return sorted(found, key=self.order.__getitem__)

    def name(self, doc_id: str) -> str:
        """How other documents cite this one: its 文号, else its title."""
        row = self.rows[doc_id]
        return normal_number(str(row.get("doc_number") or "")) or str(row.get("title") or doc_id)


@lru_cache(maxsize=1 << 16)
def _number_key(doc_number: str) -> tuple[str, str, str] | None:
    return doc_number_key(doc_number)


@lru_cache(maxsize=1 << 16)
def _title_keys(title: str) -> frozenset[str]:
    """The keys of a title and of the title it issues: normalising is most of a reopen's cost, titles repeat."""
    return frozenset(_title_key(t) for t in _inner_titles(title))


# The last build's per-document lifecycles, by what they are read from: reopening the catalog after an
# incremental update re-reads only the documents that changed. Holds one build's documents at most.
_last: dict[tuple[str, str, str, str], Lifecycle] = {}


def build_lifecycles(rows: Iterable[Mapping[str, Any]]) -> dict[str, Lifecycle]:
    """Every document's lifecycle (rows of ``documents.jsonl``), linked across the corpus."""
    global _last
    rows = list(rows)
    own: dict[str, Lifecycle] = {}
    seen: dict[tuple[str, str, str, str], Lifecycle] = {}
    for r in rows:
        doc_id, text, day = str(r["doc_id"]), str(r.get("cleaned_text") or ""), str(r.get("date") or "")
        manifest = r.get("lifecycle_manifest") or {}
        key = (doc_id, day, json.dumps(manifest, ensure_ascii=False, sort_keys=True) if manifest else "", text)
        own[doc_id] = seen[key] = _last.get(key) or document_lifecycle(doc_id, text, day, manifest)
    _last = seen
    return link(own, _Corpus(rows))


def _link_evidence(lc: Lifecycle, doc_id: str, kind: str) -> Evidence:
    ev = next((e for e in lc.evidence if kind in e.fields), None) or Evidence(MANIFEST, -1, -1, "manifest")
    return replace(ev, source="manifest" if ev.source == "manifest" else "reference", doc_id=doc_id,
                   fields=("superseded_by",))


def link(own: dict[str, Lifecycle], corpus: _Corpus) -> dict[str, Lifecycle]:
    """Supersession and delegation resolved across the corpus; both versions of a document stay."""
    links: list[Link] = []
    for doc_id, lc in own.items():
        for title, number in lc.supersede_refs:  # this document repeals older ones (text or manifest)
            for old_id in corpus.find(title, number, exclude=doc_id):
                links.append(_link(own, corpus, old_id, doc_id, _link_evidence(lc, doc_id, "supersedes")))
        for ref in lc.superseded_by:  # its manifest names the newer one
            for new_id in corpus.find(ref, "", exclude=doc_id):
                links.append(_link(own, corpus, doc_id, new_id, _link_evidence(lc, doc_id, "superseded_by")))
    unique = {(k.old_id, k.new_id): k for k in links}
    backs: dict[str, list[Link]] = defaultdict(list)
    aheads: dict[str, list[Link]] = defaultdict(list)
    for k in unique.values():
        backs[k.old_id].append(k)
        aheads[k.new_id].append(k)
    out = {}
    for doc_id, lc in own.items():
        back, ahead = tuple(backs.get(doc_id, ())), tuple(aheads.get(doc_id, ()))
        if back != lc.repealed_by or ahead != lc.replaces:
            lc = replace(lc, repealed_by=back, replaces=ahead)
        if back:
            names = tuple(dict.fromkeys((*lc.superseded_by, *(corpus.name(k.new_id) for k in back))))
            lc = replace(
                lc, superseded_by=names, status="已废止" if lc.validity_source != MANIFEST else lc.status,
                validity_source=MANIFEST if lc.validity_source == MANIFEST else "reference",
                evidence=(*lc.evidence, *(k.evidence for k in back if k.evidence.doc_id != doc_id)),
            )
        out[doc_id] = _delegate(lc, own, corpus)
    return out


def _link(own: dict[str, Lifecycle], corpus: _Corpus, old_id: str, new_id: str, evidence: Evidence) -> Link:
    row = corpus.rows[new_id]
    new_from = own[new_id].effective_from or parse_iso(row.get("date"))
    return Link(old_id, new_id, str(row.get("title") or new_id), normal_number(str(row.get("doc_number") or "")),
                new_from, evidence)


def _delegate(lc: Lifecycle, own: dict[str, Lifecycle], corpus: _Corpus) -> Lifecycle:
    """Validity delegated to corpus documents follows theirs; to absent ones it stays delegated (未收录)."""
    if not lc.delegated_to:
        return lc
    targets = [corpus.find(ref, "", exclude=lc.doc_id) for ref in lc.delegated_to]
    if not all(targets):
        return lc
    lc = replace(lc, delegated_in_corpus=True)
    source = next((own[t[0]] for t in targets if own[t[0]].has_own_validity()), None)
    if source is None or lc.has_own_validity():
        return lc
    borrowed = tuple(replace(e, source="reference", doc_id=source.doc_id) for e in source.evidence if e.doc_id == "")
    return replace(
        lc, status=source.own_status, stated_status=source.own_status, effective_from=source.effective_from,
        expires_on=source.expires_on, validity_source="reference", evidence=(*lc.evidence, *borrowed),
    )


def version_chain(lifecycles: Mapping[str, Lifecycle], doc_id: str) -> list[str]:
    """The versions ``doc_id`` belongs to, oldest first (a document before every one that repeals it)."""
    component, todo = {doc_id}, [doc_id]
    while todo:
        lc = lifecycles.get(todo.pop())
        for k in (*lc.repealed_by, *lc.replaces) if lc else ():
            for other in (k.old_id, k.new_id):
                if other not in component:
                    component.add(other)
                    todo.append(other)
    order: list[str] = []
    remaining = sorted(component, key=lambda d: (lifecycles[d].effective_from or date.max, d))
    while remaining:  # older versions first; a cycle (two documents repealing each other) keeps date order
        ready = [d for d in remaining if not any(k.old_id in remaining for k in lifecycles[d].replaces)]
        nxt = (ready or remaining)[0]
        order.append(nxt)
        remaining.remove(nxt)
    return order


# --- listing (policy-qa docs) ------------------------------------------------------------------------


def find_document(rows: Iterable[Mapping[str, Any]], key: str) -> str | None:
    """The doc_id a person means by a doc_id, file name, title or 文号; None when none matches."""
    found = _Corpus(rows).find(key.strip(), "", exclude="")
    return found[0] if found else None


def lifecycle_cells(lc: Lifecycle | None, as_of: date) -> tuple[str, ...]:
    """status, effective_from, expires_on, superseded_by / delegated_to, source: one row's lifecycle columns."""
    if lc is None:
        return ("未知", "-", "-", "-", "-")
    if lc.superseded_by:
        linked = "被废止：" + "、".join(lc.superseded_by)
    elif lc.delegated_to:
        linked = f"按{'、'.join(lc.delegated_to)}执行" + ("" if lc.delegated_in_corpus else "（未收录）")
    else:
        linked = "-"
    return (
        lc.status_on(as_of),
        lc.effective_from.isoformat() if lc.effective_from else "-",
        lc.expires_on.isoformat() if lc.expires_on else "-",
        linked,
        " | ".join(evidence_label(e) for e in lc.evidence) or "-",
    )


def evidence_label(ev: Evidence) -> str:
    """A sentence as quoted (with its document when it is another's), or manifest.toml and its keys."""
    where = f"〔{ev.doc_id}〕" if ev.doc_id else ""
    if ev.source == MANIFEST:
        return f"manifest.toml{where}：{', '.join(ev.fields)}" if ev.fields else f"manifest.toml{where}"
    return f"{where}{ev.text}"


def history_rows(docs: list[Any], as_of: date) -> list[tuple[str, ...]]:
    """The rows of a version chain (``DocumentInfo``s oldest first): each version, then what links it."""
    ids = {d.doc_id for d in docs}
    rows: list[tuple[str, ...]] = []
    for i, d in enumerate(docs, 1):
        status, start, end, _, _ = lifecycle_cells(d.lifecycle, as_of)
        number = f"（{d.doc_number}）" if d.doc_number else ""
        rows.append((f"{i}. {d.title}{number}", status, f"施行：{start}", f"有效期至：{end}", d.doc_id))
        for k in d.lifecycle.replaces if d.lifecycle else ():
            if k.old_id in ids:
                rows.append((f"   废止 {k.old_id}，依据：{evidence_label(k.evidence)}",))
    return rows


def document_json(d: Any, as_of: date) -> dict[str, Any]:
    """A ``DocumentInfo`` as JSON, with its lifecycle and its status on ``as_of``."""
    keys = ("doc_id", "file", "title", "jurisdiction", "doc_number", "date", "chunks")
    lc = d.lifecycle
    return {
        **{k: getattr(d, k) for k in keys},
        "status_on": {"date": as_of.isoformat(), "status": lc.status_on(as_of) if lc else "未知"},
        "lifecycle": lc.to_dict() if lc else None,
    }
